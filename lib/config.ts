import path from 'node:path';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { ConnectionOptions } from '@temporalio/client';
import { ConfigError } from './errors';
import { parseDuration } from './duration';
import { PROJECT_ROOT } from './paths';
import { API_QUEUES, QUEUES, isApiQueueName, isQueueName, type ApiQueueName, type QueueName } from './queues';
import type { LogLevel } from './logger';
import { buildInfo } from './build-info';
import { parseEncryptionKeys, type EncryptionKey } from './codec';

/**
 * durasync's configuration, read once from the environment at start-up. Every variable has a
 * documented default (docs/CONFIGURATION.md); a bad value stops the process with one line naming
 * the variable: `ConfigError: TEMPORAL_ADDRESS: expected host:port ...`.
 *
 * Temporal connection settings come from @temporalio/envconfig, the SDK's own convention
 * (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE and
 * the TOML file at TEMPORAL_CONFIG_FILE), so one build runs against the dev server, a self-hosted
 * cluster or Temporal Cloud.
 */
export interface DurasyncConfig {
  /** DURASYNC_LOG_LEVEL. Default: `info`. */
  logLevel: LogLevel;
  /** DURASYNC_DATA_DIR: local state of `npm run dev` (Temporal history, embedded Postgres, objects). Default: `<project>/.durasync`. */
  dataDir: string;
  temporal: {
    /** Resolved host:port. Default: `127.0.0.1:7233`. */
    address: string;
    /** TEMPORAL_NAMESPACE. Default: `default`. */
    namespace: string;
    /** Connection options (address, TLS, API key, gRPC metadata) as envconfig resolved them. */
    connectionOptions: ConnectionOptions;
    /** DURASYNC_TASK_QUEUE_PREFIX, prepended to every task queue name. Default: empty. */
    taskQueuePrefix: string;
  };
  database: {
    /** DATABASE_URL: Postgres connection string. Unset (and no Supabase): `npm run dev` starts an embedded Postgres. */
    url?: string;
    /** SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY: use Supabase (PostgREST rpc) as the store. */
    supabase?: { url: string; serviceKey: string };
    /** DURASYNC_DB_POOL_MAX: connections per process. Default: 10. */
    poolMax: number;
  };
  /** Object storage (lib/objects.ts): deltas and snapshots of branches. */
  objects: {
    /** DURASYNC_OBJECTS_DIR: the folder of the local object store (used when SUPABASE_URL is not set). Default: `<DURASYNC_DATA_DIR>/objects`. */
    dir: string;
    /** DURASYNC_OBJECTS_BUCKET: the Supabase Storage bucket (used when SUPABASE_URL is set). Default: `durasync`. */
    bucket: string;
  };
  redis: {
    /** REDIS_URL: token cache. Unset: an in-process cache serves one process. */
    url?: string;
    /** DURASYNC_REDIS_PREFIX: prefix of every Redis key. Default: `durasync:`. */
    keyPrefix: string;
  };
  ops: {
    /** DURASYNC_OPS_HOST. Default: `0.0.0.0`. */
    host: string;
    /** DURASYNC_OPS_PORT: health, metrics and stats of a worker process. Default: 8080. */
    port: number;
  };
  ingress: {
    /** DURASYNC_INGRESS_HOST. Default: `0.0.0.0`. */
    host: string;
    /** DURASYNC_INGRESS_PORT: webhooks and change feeds. Default: 8088. */
    port: number;
  };
  worker: {
    /** DURASYNC_QUEUES: comma-separated queues a worker process serves. Default: all. */
    queues: QueueName[];
    /** DURASYNC_SHUTDOWN_GRACE: time in-flight activities get to finish after SIGTERM. Default: `30s`. */
    shutdownGraceMs: number;
    /** DURASYNC_MAX_CONCURRENT_ACTIVITIES per worker. Default: the SDK's (100). */
    maxConcurrentActivities?: number;
    /** DURASYNC_MAX_CONCURRENT_WORKFLOW_TASKS per worker. Default: the SDK's (40). */
    maxConcurrentWorkflowTasks?: number;
    /** DURASYNC_WORKFLOW_BUNDLE: prebuilt workflow bundle (`npm run build`). Default: bundle from source at start. */
    workflowBundlePath?: string;
    /**
     * DURASYNC_TUNER=resource with DURASYNC_TUNER_TARGET_MEM / DURASYNC_TUNER_TARGET_CPU (0-1):
     * slots sized by the SDK's resource-based tuner instead of fixed maximums. Default: off.
     */
    tuner?: { targetMemoryUsage: number; targetCpuUsage: number };
    /**
     * DURASYNC_QUEUE_RATES, e.g. `sync=5,github-api=10`: activities per second for a whole task queue,
     * enforced by the server across all its workers (maxTaskQueueActivitiesPerSecond). Default: none,
     * except `github-api=20,drive-api=20` for the provider queues.
     */
    rates: Partial<Record<QueueName | ApiQueueName, number>>;
    /** Worker Versioning (Temporal worker deployments). */
    versioning: {
      /** DURASYNC_WORKER_VERSIONING=on: workers poll as a deployment version. Default: off. */
      enabled: boolean;
      /** DURASYNC_DEPLOYMENT_NAME. Default: `durasync`. */
      deploymentName: string;
      /** DURASYNC_BUILD_ID. Default: package version + git commit (lib/build-info.ts). */
      buildId: string;
      /** DURASYNC_VERSIONING_BEHAVIOR: PINNED or AUTO_UPGRADE for workflows that do not choose. Default: AUTO_UPGRADE. */
      defaultBehavior: 'PINNED' | 'AUTO_UPGRADE';
    };
  };
  /** Where the providers are and how durasync identifies itself to them (lib/providers). */
  providers: {
    google: {
      /** GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET: the OAuth client that refreshes users' Drive tokens. Default: none (a Drive token past its expiry then fails the sync with a clear error). */
      clientId: string;
      clientSecret: string;
      /** GOOGLE_TOKEN_URL: the OAuth token endpoint. Default: Google's. */
      tokenUrl?: string;
      /** GOOGLE_API_ROOT_URL: the API root, e.g. the Drive emulator's URL. Default: Google's. */
      rootUrl?: string;
      /** GOOGLE_AUTH_URL: the authorization endpoint `durasync connect google` sends the browser to. Default: https://accounts.google.com/o/oauth2/v2/auth. */
      authUrl: string;
    };
    github: {
      /** GITHUB_API_URL: the REST API root (GitHub Enterprise: `https://host/api/v3`). Default: https://api.github.com. */
      baseUrl?: string;
      /**
       * GITHUB_TOKEN: the deployment's own token for pulled GitHub events (`ingestSource` with
       * source github and no `user`). Secret: never logged. Default: none (such pulls fail with NotConfigured).
       */
      token?: string;
      /** GITHUB_OAUTH_URL: where `/login/device/code` and `/login/oauth/access_token` are (`durasync connect github`, token refresh). Default: https://github.com. */
      oauthUrl: string;
      /** GITHUB_CLIENT_ID: the OAuth App or GitHub App `durasync connect github` runs the device flow for. Default: none (connect github then fails naming it). */
      clientId?: string;
      /** GITHUB_CLIENT_SECRET: the app's secret, needed to refresh a GitHub App's expiring user tokens. Secret: never logged. Default: none. */
      clientSecret?: string;
    };
  };
  /** The job bridge (workers/job-bridge.ts): rows of sync_jobs started as `syncJob` workflows by the processes serving the sync queue. */
  jobs: {
    /** DURASYNC_JOB_BRIDGE: `on` runs the bridge in every worker process serving the sync queue; `off` in none. Default: on. */
    bridge: boolean;
    /** DURASYNC_JOB_POLL_INTERVAL: pause between polls of sync_jobs that found less than a batch. Default: `1s`. */
    pollIntervalMs: number;
    /** DURASYNC_JOB_LEASE: a job claimed but not finished this long ago is claimed again (its workflow start is retried). Default: `60s`. */
    leaseMs: number;
    /** DURASYNC_JOB_BATCH: most jobs claimed per poll (1-1000). Default: 10. */
    batchSize: number;
  };
  /** Run-time settings (lib/settings.ts, `durasync settings`). */
  settings: {
    /** DURASYNC_SETTINGS_TTL: a process reads the settings table again after this long, so a value set is seen everywhere within it. Default: `10s`. */
    ttlMs: number;
  };
  /** Provider OAuth tokens at rest (lib/tokens). */
  tokens: {
    /** DURASYNC_TOKEN_KEY: `<keyId>:<base64 32 bytes>[,<oldKeyId>:<key>...]`, seals provider tokens in Postgres and Redis; the first seals, all open. Required by the sync activities. */
    keys?: EncryptionKey[];
    /** DURASYNC_TOKEN_REFRESH_MARGIN: refresh an access token this long before it expires. Default: `60s`. */
    refreshMarginMs: number;
  };
  /** Payload encryption (lib/codec.ts) and the codec endpoint of the ops server. */
  encryption: {
    /** DURASYNC_ENCRYPTION_KEY: `<keyId>:<base64 32 bytes>[,<oldKeyId>:<key>...]`; the first encrypts. Unset: payloads are not encrypted. */
    keys?: EncryptionKey[];
    /** DURASYNC_CODEC_TOKEN: bearer token the codec endpoint requires. Unset: it answers loopback clients only. */
    codecToken?: string;
    /** DURASYNC_CODEC_CORS_ORIGINS: origins of Temporal Web UIs allowed to call the codec endpoint. Default: the dev server's UI (http://localhost:8233, http://127.0.0.1:8233). */
    corsOrigins: string[];
  };
  /** The supervisor (`durasync manager`, `durasync worker --mode isolated`). */
  manager: {
    /** DURASYNC_WORKER_MODE: `concurrent` (one process, a worker per queue) or `isolated` (a process per queue, supervised). Default: concurrent. */
    mode: 'concurrent' | 'isolated';
    /** DURASYNC_MANAGER_PROCESSES, e.g. `sync=2,ingestion=1`: processes per queue (1-20). Default: 1 for each of DURASYNC_QUEUES. */
    processes: Partial<Record<QueueName, number>>;
    /** DURASYNC_MANAGER_RESTART_BACKOFF: first delay before restarting a crashed process; doubles each time, up to 30 s. Default: `1s`. */
    restartBackoffMs: number;
    /** DURASYNC_MANAGER_MAX_RESTARTS: restarts allowed within the window before a process is reported failed. Default: 5. */
    maxRestarts: number;
    /** DURASYNC_MANAGER_RESTART_WINDOW. Default: `60s`. */
    restartWindowMs: number;
  };
  /** Branch deltas: how changes are batched before Temporal sees them, and the activities' concurrency. */
  branches: {
    /** DURASYNC_BRANCH_CONCURRENCY, e.g. `sync=5,compression=2,notification=1,cleanup=1`: concurrent branch work of each kind per worker process. Default: those. */
    concurrency: { sync: number; compression: number; notification: number; cleanup: number };
    /** DURASYNC_BRANCH_FLUSH_CHANGES: signal a branch's workflow once this many accepted changes are unsignalled. Default: 100. */
    flushChanges: number;
    /** DURASYNC_BRANCH_FLUSH_INTERVAL: ... or once the oldest unsignalled change is this old. Default: `5s`. */
    flushIntervalMs: number;
    /** DURASYNC_BRANCH_MAX_BATCH_CHANGES: most changes in one delta. Default: 50000. */
    maxBatchChanges: number;
    /** DURASYNC_BRANCH_MAX_BATCH_BYTES: most NDJSON bytes in one delta (`8MB`, `512KB`, bytes). Default: `8MB`. */
    maxBatchBytes: number;
    /** DURASYNC_BRANCH_MAX_BODY: largest request body of POST /branches/:id/changes. Default: `25MB`. */
    maxBodyBytes: number;
    /** DURASYNC_BRANCH_COMPACT_EVERY: a branch's workflow folds its deltas into a snapshot every this many deltas (compactBranch); 0 turns it off. Default: 100. */
    compactEvery: number;
  };
  /** The Postgres change-stream tailer (lib/branches/pg-tailer.ts): `durasync tail`, or inside `durasync serve`. */
  tail: {
    /** DURASYNC_TAIL: `on` runs the tailer inside `durasync serve` too. Default: off (`durasync tail` runs it on its own). */
    enabled: boolean;
    /** DURASYNC_TAIL_CONSUMER: the name its position is kept under (change_log_cursors); tailers sharing it never forward a row twice. Default: `durasync`. */
    consumer: string;
    /** DURASYNC_TAIL_POLL_INTERVAL: poll change_log this often besides LISTEN/NOTIFY. Default: `2s`. */
    pollIntervalMs: number;
    /** DURASYNC_TAIL_PAGE: change_log rows per page (one transaction each), 1-100000. Default: 1000. */
    pageSize: number;
  };
  /** Webhooks on the ingress (lib/webhooks) and the Redis Streams bridge. */
  webhooks: {
    /** GITHUB_WEBHOOK_SECRET: the secret of GitHub's X-Hub-Signature-256. Unset: POST /webhooks/github answers 503. */
    githubSecret?: string;
    /** DURASYNC_WEBHOOK_MAX_BODY: largest webhook body (`25MB`, `512KB`, bytes). Default: `25MB` (GitHub's own cap). */
    maxBodyBytes: number;
    /** DURASYNC_WEBHOOK_SOURCES: other providers, `name:SECRET_VAR:signature-header:delivery-header:event-header[,...]` (POST /webhooks/<name>). Default: none. */
    sources: WebhookSourceConfig[];
    /** The Redis Streams bridge (lib/webhooks/redis-stream-bridge.ts). */
    stream: {
      /** DURASYNC_WEBHOOK_STREAM_BRIDGE: `on` runs the bridge inside `durasync serve` (needs REDIS_URL). Default: off. */
      bridge: boolean;
      /** DURASYNC_WEBHOOK_STREAM: the stream read. Default: `webhook_events`. */
      key: string;
      /** DURASYNC_WEBHOOK_STREAM_CLAIM_IDLE: entries pending this long with another consumer are reclaimed (XAUTOCLAIM). Default: `60s`. */
      claimIdleMs: number;
    };
  };
  /** Temporal task priority (1 = most urgent .. 5): urgent work overtakes bulk work on a busy queue. */
  priority: {
    /** DURASYNC_PRIORITY_URGENT: priority key of user-triggered syncs (`durasync sync`, sync.start()) and urgent webhooks. Default: 1. */
    urgent: number;
    /** DURASYNC_PRIORITY_BULK: priority key of scheduled syncs and sync_jobs rows. Default: 4. */
    bulk: number;
    /** DURASYNC_URGENT_WEBHOOK_EVENTS: webhook events started with the urgent priority, `event` (any source) or `source:event`. Default: `push,pull_request`. */
    urgentWebhookEvents: string[];
  };
  /** Ports of what `npm run dev` starts itself. */
  dev: {
    /** DURASYNC_DEV_TEMPORAL: `embedded` starts the Temporal CLI's dev server at TEMPORAL_ADDRESS; `external` uses a server already there. Default: `embedded`. */
    temporal: 'embedded' | 'external';
    /** DURASYNC_DEV_UI_PORT: Web UI of the dev server. Default: 8233. */
    uiPort: number;
    /** DURASYNC_EMBEDDED_PG_PORT: the embedded Postgres (when no DATABASE_URL). Default: 54329. */
    embeddedPgPort: number;
    /**
     * DURASYNC_DEMO: `on` runs the demo workspace (Drive and GitHub emulators, seeded) when no provider
     * credentials are configured; `off` never does. Default: `on`.
     */
    demo: boolean;
    /** DURASYNC_DEV_DRIVE_PORT: the Google Drive emulator of the demo. Default: 8091. */
    drivePort: number;
    /** DURASYNC_DEV_GITHUB_PORT: the GitHub emulator of the demo. Default: 8092. */
    githubPort: number;
  };
}

type Env = Record<string, string | undefined>;

/** A webhook source besides GitHub (DURASYNC_WEBHOOK_SOURCES); header names are lower case. */
export interface WebhookSourceConfig {
  name: string;
  /** The variable the secret was read from (named in errors, never the secret). */
  secretVar: string;
  secret: string;
  signatureHeader: string;
  deliveryHeader: string;
  eventHeader: string;
}

function str(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === '' ? undefined : value;
}

function int(env: Env, name: string, fallback: number | undefined, min: number, max: number): number | undefined {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

function port(env: Env, name: string, fallback: number): number {
  return int(env, name, fallback, 0, 65_535)!;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `expected a URL (${protocols.join(' or ')}), got something that does not parse`);
  }
  if (!protocols.includes(parsed.protocol.replace(/:$/, ''))) {
    throw new ConfigError(name, `expected a ${protocols.join(' or ')} URL, got a ${parsed.protocol.replace(/:$/, '')} URL`);
  }
  return raw;
}

/** host:port, [ipv6]:port; the port 1-65535. */
export function isHostPort(value: string): boolean {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  return match !== null && Number(match[2]) >= 1 && Number(match[2]) <= 65_535;
}

function temporalSettings(env: Env): DurasyncConfig['temporal'] {
  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    const overrideEnvVars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
    loaded = loadClientConnectConfig({ overrideEnvVars });
  } catch (err) {
    throw new ConfigError('TEMPORAL_CONFIG_FILE', `Temporal client configuration could not be loaded: ${(err as Error).message}`);
  }
  const address = loaded.connectionOptions.address ?? '127.0.0.1:7233';
  if (!isHostPort(address)) {
    throw new ConfigError('TEMPORAL_ADDRESS', `expected host:port (e.g. 127.0.0.1:7233), got ${JSON.stringify(address)}`);
  }
  const prefix = str(env, 'DURASYNC_TASK_QUEUE_PREFIX') ?? '';
  if (!/^[A-Za-z0-9._:-]*$/.test(prefix)) {
    throw new ConfigError('DURASYNC_TASK_QUEUE_PREFIX', `may hold letters, digits and . _ : - only, got ${JSON.stringify(prefix)}`);
  }
  return {
    address,
    namespace: loaded.namespace ?? 'default',
    connectionOptions: { ...(loaded.connectionOptions as ConnectionOptions), address },
    taskQueuePrefix: prefix,
  };
}

function queues(env: Env): QueueName[] {
  const raw = str(env, 'DURASYNC_QUEUES');
  if (raw === undefined) return [...QUEUES];
  return parseQueueList(raw, 'DURASYNC_QUEUES');
}

/** Parses `sync,ingestion`; unknown or empty lists are a ConfigError naming `source`. */
export function parseQueueList(raw: string, source: string): QueueName[] {
  const names = raw.split(',').map((q) => q.trim()).filter(Boolean);
  const unknown = names.filter((q) => !isQueueName(q));
  if (names.length === 0 || unknown.length > 0) {
    throw new ConfigError(source, `unknown queue ${JSON.stringify(unknown[0] ?? raw)}: expected a comma-separated list of ${QUEUES.join(', ')}`);
  }
  return [...new Set(names)] as QueueName[];
}

/** The provider queues' pace when DURASYNC_QUEUE_RATES does not name them: activity starts per second. */
export const DEFAULT_API_RATES: Readonly<Record<ApiQueueName, number>> = { 'github-api': 20, 'drive-api': 20 };

/** Parses `sync=5,ingestion=0.5` (activities per second per queue); a ConfigError names `source`. */
export function parseQueueRates(raw: string, source: string): Partial<Record<QueueName | ApiQueueName, number>> {
  const rates: Partial<Record<QueueName | ApiQueueName, number>> = { ...DEFAULT_API_RATES };
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [queue, value, extra] = part.split('=');
    if (!queue || !(isQueueName(queue) || isApiQueueName(queue)) || value === undefined || extra !== undefined || !/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) {
      throw new ConfigError(source, `expected queue=activities-per-second pairs such as sync=5 (queues: ${[...QUEUES, ...API_QUEUES].join(', ')}), got ${JSON.stringify(part)}`);
    }
    rates[queue] = Number(value);
  }
  return rates;
}

/** A number in (0, 1]; a ConfigError names `source`. */
export function parseFraction(raw: string, source: string): number {
  if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(raw) || Number(raw) <= 0) throw new ConfigError(source, `expected a fraction above 0 and at most 1 (e.g. 0.8), got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function tuner(env: Env): DurasyncConfig['worker']['tuner'] {
  const kind = oneOf(env, 'DURASYNC_TUNER', ['fixed', 'resource'] as const, 'fixed');
  if (kind === 'fixed') return undefined;
  if (str(env, 'DURASYNC_MAX_CONCURRENT_ACTIVITIES') || str(env, 'DURASYNC_MAX_CONCURRENT_WORKFLOW_TASKS')) {
    throw new ConfigError('DURASYNC_TUNER', 'resource cannot be combined with DURASYNC_MAX_CONCURRENT_* (the tuner sizes the slots)');
  }
  return {
    targetMemoryUsage: parseFraction(str(env, 'DURASYNC_TUNER_TARGET_MEM') ?? '0.8', 'DURASYNC_TUNER_TARGET_MEM'),
    targetCpuUsage: parseFraction(str(env, 'DURASYNC_TUNER_TARGET_CPU') ?? '0.9', 'DURASYNC_TUNER_TARGET_CPU'),
  };
}

/** Parses `sync=2,ingestion=1` (processes per queue, 1-20); a ConfigError names `source`. */
export function parseQueueCounts(raw: string, source: string): Partial<Record<QueueName, number>> {
  const counts: Partial<Record<QueueName, number>> = {};
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [queue, value, extra] = part.split('=');
    if (!queue || !isQueueName(queue) || value === undefined || extra !== undefined || !/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 20) {
      throw new ConfigError(source, `expected queue=processes pairs with 1 to 20 processes, such as sync=2 (queues: ${QUEUES.join(', ')}), got ${JSON.stringify(part)}`);
    }
    counts[queue] = Number(value);
  }
  return counts;
}

/** The kinds of branch work with their own concurrency, and their defaults. */
export const DEFAULT_BRANCH_CONCURRENCY = { sync: 5, compression: 2, notification: 1, cleanup: 1 } as const;

/** Parses `sync=5,compression=2` (1-1000 each; kinds not named keep their default); a ConfigError names `source`. */
export function parseBranchConcurrency(raw: string, source: string): DurasyncConfig['branches']['concurrency'] {
  const out: DurasyncConfig['branches']['concurrency'] = { ...DEFAULT_BRANCH_CONCURRENCY };
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [kind, value, extra] = part.split('=');
    if (!kind || !(kind in out) || value === undefined || extra !== undefined || !/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) {
      throw new ConfigError(source, `expected kind=n pairs with n from 1 to 1000 (kinds: ${Object.keys(DEFAULT_BRANCH_CONCURRENCY).join(', ')}), got ${JSON.stringify(part)}`);
    }
    out[kind as keyof typeof out] = Number(value);
  }
  return out;
}

/** Parses a size: `8MB`, `512KB`, `1GB` (binary multiples) or a number of bytes; undefined if it does not parse. */
export function parseByteSize(raw: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(raw.trim());
  if (!m) return undefined;
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  const bytes = Math.floor(Number(m[1]) * unit);
  return bytes > 0 ? bytes : undefined;
}

function byteSize(env: Env, name: string, fallback: string): number {
  const raw = str(env, name) ?? fallback;
  const bytes = parseByteSize(raw);
  if (bytes === undefined) throw new ConfigError(name, `expected a size such as 8MB, 512KB or a number of bytes, got ${JSON.stringify(raw)}`);
  return bytes;
}

function duration(env: Env, name: string, fallback: string): number {
  const raw = str(env, name) ?? fallback;
  const ms = parseDuration(raw);
  if (ms === undefined) throw new ConfigError(name, `expected a duration such as 30s, 500ms or 2m, got ${JSON.stringify(raw)}`);
  return ms;
}

function positiveDuration(env: Env, name: string, fallback: string): number {
  const ms = duration(env, name, fallback);
  if (ms <= 0) throw new ConfigError(name, `expected a duration above zero, got ${JSON.stringify(str(env, name) ?? fallback)}`);
  return ms;
}

/** A Supabase Storage bucket name: letters, digits and `._-`, 1-100 characters. */
function bucketName(env: Env, name: string, fallback: string): string {
  const raw = str(env, name) ?? fallback;
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(raw)) throw new ConfigError(name, `expected a bucket name (letters, digits, . _ -), got ${JSON.stringify(raw)}`);
  return raw;
}

const HEADER = /^[A-Za-z0-9-]{1,100}$/;

/**
 * Parses DURASYNC_WEBHOOK_SOURCES: comma-separated `name:SECRET_VAR:signature-header:delivery-header:event-header`
 * entries. The secret is read from `SECRET_VAR` in `env`; a ConfigError names `source`.
 */
export function parseWebhookSources(raw: string, env: Env, source: string): WebhookSourceConfig[] {
  const out: WebhookSourceConfig[] = [];
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const fields = part.split(':').map((f) => f.trim());
    const [name, secretVar, signatureHeader, deliveryHeader, eventHeader] = fields;
    if (fields.length !== 5 || !name || !secretVar || !signatureHeader || !deliveryHeader || !eventHeader) {
      throw new ConfigError(source, `expected name:SECRET_VAR:signature-header:delivery-header:event-header entries, got ${JSON.stringify(part)}`);
    }
    if (!/^[a-z0-9][a-z0-9_-]{0,39}$/.test(name)) throw new ConfigError(source, `source name ${JSON.stringify(name)}: expected lower-case letters, digits, _ and - (at most 40)`);
    if (name === 'github') throw new ConfigError(source, 'source name "github" is built in (GITHUB_WEBHOOK_SECRET); choose another name');
    if (out.some((s) => s.name === name)) throw new ConfigError(source, `source "${name}" is listed twice`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(secretVar)) throw new ConfigError(source, `source "${name}": ${JSON.stringify(secretVar)} is not an environment variable name`);
    for (const header of [signatureHeader, deliveryHeader, eventHeader]) {
      if (!HEADER.test(header)) throw new ConfigError(source, `source "${name}": ${JSON.stringify(header)} is not a header name`);
    }
    const secret = str(env, secretVar);
    if (secret === undefined) throw new ConfigError(source, `source "${name}": its secret variable ${secretVar} is not set`);
    out.push({ name, secretVar, secret, signatureHeader: signatureHeader.toLowerCase(), deliveryHeader: deliveryHeader.toLowerCase(), eventHeader: eventHeader.toLowerCase() });
  }
  return out;
}

function webhooks(env: Env): DurasyncConfig['webhooks'] {
  const bridge = oneOf(env, 'DURASYNC_WEBHOOK_STREAM_BRIDGE', ['on', 'off'] as const, 'off') === 'on';
  if (bridge && str(env, 'REDIS_URL') === undefined) throw new ConfigError('DURASYNC_WEBHOOK_STREAM_BRIDGE', 'on needs REDIS_URL (the Redis holding the stream)');
  const key = str(env, 'DURASYNC_WEBHOOK_STREAM') ?? 'webhook_events';
  if (!/^[A-Za-z0-9._:-]{1,200}$/.test(key)) throw new ConfigError('DURASYNC_WEBHOOK_STREAM', `expected a stream key of letters, digits and . _ : -, got ${JSON.stringify(key)}`);
  return {
    githubSecret: str(env, 'GITHUB_WEBHOOK_SECRET'),
    maxBodyBytes: byteSize(env, 'DURASYNC_WEBHOOK_MAX_BODY', '25MB'),
    sources: str(env, 'DURASYNC_WEBHOOK_SOURCES') === undefined ? [] : parseWebhookSources(str(env, 'DURASYNC_WEBHOOK_SOURCES')!, env, 'DURASYNC_WEBHOOK_SOURCES'),
    stream: { bridge, key, claimIdleMs: positiveDuration(env, 'DURASYNC_WEBHOOK_STREAM_CLAIM_IDLE', '60s') },
  };
}

/** Priority keys and urgent webhook events (DURASYNC_PRIORITY_*, DURASYNC_URGENT_WEBHOOK_EVENTS), on their own. */
export function loadPriorityConfig(env: Env = process.env): DurasyncConfig['priority'] {
  const urgent = int(env, 'DURASYNC_PRIORITY_URGENT', 1, 1, 5)!;
  const bulk = int(env, 'DURASYNC_PRIORITY_BULK', 4, 1, 5)!;
  if (bulk <= urgent) throw new ConfigError('DURASYNC_PRIORITY_BULK', `must be a larger number (less urgent) than DURASYNC_PRIORITY_URGENT (${urgent}), got ${bulk}`);
  const events = (str(env, 'DURASYNC_URGENT_WEBHOOK_EVENTS') ?? 'push,pull_request').split(',').map((e) => e.trim()).filter(Boolean);
  const bad = events.find((e) => !/^([a-z0-9][a-z0-9_-]{0,39}:)?[A-Za-z0-9._-]{1,100}$/.test(e));
  if (bad !== undefined) throw new ConfigError('DURASYNC_URGENT_WEBHOOK_EVENTS', `expected comma-separated event or source:event names, got ${JSON.stringify(bad)}`);
  return { urgent, bulk, urgentWebhookEvents: events };
}

/** DURASYNC_DATA_DIR, resolved: where `npm run dev` keeps its workspace. Default: `<project>/.durasync`. */
export function dataDirOf(env: Env = process.env): string {
  return path.resolve(str(env, 'DURASYNC_DATA_DIR') ?? path.join(PROJECT_ROOT, '.durasync'));
}

export function loadConfig(env: Env = process.env): DurasyncConfig {
  const supabaseUrl = url(env, 'SUPABASE_URL', ['http', 'https']);
  const serviceKey = str(env, 'SUPABASE_SERVICE_ROLE_KEY');
  if (supabaseUrl && !serviceKey) throw new ConfigError('SUPABASE_SERVICE_ROLE_KEY', 'required when SUPABASE_URL is set');
  const shutdownGraceMs = duration(env, 'DURASYNC_SHUTDOWN_GRACE', '30s');
  const workerQueues = queues(env);
  const dataDir = dataDirOf(env);
  return {
    logLevel: oneOf(env, 'DURASYNC_LOG_LEVEL', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, 'info'),
    dataDir,
    temporal: temporalSettings(env),
    database: {
      url: url(env, 'DATABASE_URL', ['postgres', 'postgresql']),
      supabase: supabaseUrl && serviceKey ? { url: supabaseUrl, serviceKey } : undefined,
      poolMax: int(env, 'DURASYNC_DB_POOL_MAX', 10, 1, 1000)!,
    },
    objects: {
      dir: path.resolve(str(env, 'DURASYNC_OBJECTS_DIR') ?? path.join(dataDir, 'objects')),
      bucket: bucketName(env, 'DURASYNC_OBJECTS_BUCKET', 'durasync'),
    },
    redis: {
      url: url(env, 'REDIS_URL', ['redis', 'rediss']),
      keyPrefix: str(env, 'DURASYNC_REDIS_PREFIX') ?? 'durasync:',
    },
    ops: { host: str(env, 'DURASYNC_OPS_HOST') ?? '0.0.0.0', port: port(env, 'DURASYNC_OPS_PORT', 8080) },
    ingress: { host: str(env, 'DURASYNC_INGRESS_HOST') ?? '0.0.0.0', port: port(env, 'DURASYNC_INGRESS_PORT', 8088) },
    worker: {
      queues: workerQueues,
      shutdownGraceMs,
      maxConcurrentActivities: int(env, 'DURASYNC_MAX_CONCURRENT_ACTIVITIES', undefined, 1, 10_000),
      maxConcurrentWorkflowTasks: int(env, 'DURASYNC_MAX_CONCURRENT_WORKFLOW_TASKS', undefined, 2, 10_000),
      workflowBundlePath: str(env, 'DURASYNC_WORKFLOW_BUNDLE'),
      tuner: tuner(env),
      rates: str(env, 'DURASYNC_QUEUE_RATES') === undefined ? { ...DEFAULT_API_RATES } : parseQueueRates(str(env, 'DURASYNC_QUEUE_RATES')!, 'DURASYNC_QUEUE_RATES'),
      versioning: {
        enabled: oneOf(env, 'DURASYNC_WORKER_VERSIONING', ['off', 'on'] as const, 'off') === 'on',
        deploymentName: str(env, 'DURASYNC_DEPLOYMENT_NAME') ?? 'durasync',
        buildId: str(env, 'DURASYNC_BUILD_ID') ?? buildInfo().buildId,
        defaultBehavior: oneOf(env, 'DURASYNC_VERSIONING_BEHAVIOR', ['PINNED', 'AUTO_UPGRADE'] as const, 'AUTO_UPGRADE'),
      },
    },
    providers: {
      google: {
        clientId: str(env, 'GOOGLE_CLIENT_ID') ?? '',
        clientSecret: str(env, 'GOOGLE_CLIENT_SECRET') ?? '',
        tokenUrl: url(env, 'GOOGLE_TOKEN_URL', ['http', 'https']),
        rootUrl: url(env, 'GOOGLE_API_ROOT_URL', ['http', 'https']),
        authUrl: url(env, 'GOOGLE_AUTH_URL', ['http', 'https']) ?? 'https://accounts.google.com/o/oauth2/v2/auth',
      },
      github: {
        baseUrl: url(env, 'GITHUB_API_URL', ['http', 'https']),
        token: str(env, 'GITHUB_TOKEN'),
        oauthUrl: url(env, 'GITHUB_OAUTH_URL', ['http', 'https']) ?? 'https://github.com',
        clientId: str(env, 'GITHUB_CLIENT_ID'),
        clientSecret: str(env, 'GITHUB_CLIENT_SECRET'),
      },
    },
    jobs: {
      bridge: oneOf(env, 'DURASYNC_JOB_BRIDGE', ['on', 'off'] as const, 'on') === 'on',
      pollIntervalMs: positiveDuration(env, 'DURASYNC_JOB_POLL_INTERVAL', '1s'),
      leaseMs: positiveDuration(env, 'DURASYNC_JOB_LEASE', '60s'),
      batchSize: int(env, 'DURASYNC_JOB_BATCH', 10, 1, 1000)!,
    },
    settings: { ttlMs: duration(env, 'DURASYNC_SETTINGS_TTL', '10s') },
    tokens: {
      keys: str(env, 'DURASYNC_TOKEN_KEY') === undefined ? undefined : parseEncryptionKeys(str(env, 'DURASYNC_TOKEN_KEY')!, 'DURASYNC_TOKEN_KEY'),
      refreshMarginMs: duration(env, 'DURASYNC_TOKEN_REFRESH_MARGIN', '60s'),
    },
    encryption: {
      keys: str(env, 'DURASYNC_ENCRYPTION_KEY') === undefined ? undefined : parseEncryptionKeys(str(env, 'DURASYNC_ENCRYPTION_KEY')!),
      codecToken: str(env, 'DURASYNC_CODEC_TOKEN'),
      corsOrigins: (str(env, 'DURASYNC_CODEC_CORS_ORIGINS') ?? `http://localhost:${port(env, 'DURASYNC_DEV_UI_PORT', 8233)},http://127.0.0.1:${port(env, 'DURASYNC_DEV_UI_PORT', 8233)}`)
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    },
    manager: {
      mode: oneOf(env, 'DURASYNC_WORKER_MODE', ['concurrent', 'isolated'] as const, 'concurrent'),
      processes:
        str(env, 'DURASYNC_MANAGER_PROCESSES') === undefined
          ? Object.fromEntries(workerQueues.map((q) => [q, 1]))
          : parseQueueCounts(str(env, 'DURASYNC_MANAGER_PROCESSES')!, 'DURASYNC_MANAGER_PROCESSES'),
      restartBackoffMs: duration(env, 'DURASYNC_MANAGER_RESTART_BACKOFF', '1s'),
      maxRestarts: int(env, 'DURASYNC_MANAGER_MAX_RESTARTS', 5, 0, 1000)!,
      restartWindowMs: duration(env, 'DURASYNC_MANAGER_RESTART_WINDOW', '60s'),
    },
    branches: {
      concurrency: str(env, 'DURASYNC_BRANCH_CONCURRENCY') === undefined ? { ...DEFAULT_BRANCH_CONCURRENCY } : parseBranchConcurrency(str(env, 'DURASYNC_BRANCH_CONCURRENCY')!, 'DURASYNC_BRANCH_CONCURRENCY'),
      flushChanges: int(env, 'DURASYNC_BRANCH_FLUSH_CHANGES', 100, 1, 1_000_000)!,
      flushIntervalMs: positiveDuration(env, 'DURASYNC_BRANCH_FLUSH_INTERVAL', '5s'),
      maxBatchChanges: int(env, 'DURASYNC_BRANCH_MAX_BATCH_CHANGES', 50_000, 1, 10_000_000)!,
      maxBatchBytes: byteSize(env, 'DURASYNC_BRANCH_MAX_BATCH_BYTES', '8MB'),
      maxBodyBytes: byteSize(env, 'DURASYNC_BRANCH_MAX_BODY', '25MB'),
      compactEvery: int(env, 'DURASYNC_BRANCH_COMPACT_EVERY', 100, 0, 1_000_000)!,
    },
    tail: {
      enabled: oneOf(env, 'DURASYNC_TAIL', ['on', 'off'] as const, 'off') === 'on',
      consumer: str(env, 'DURASYNC_TAIL_CONSUMER') ?? 'durasync',
      pollIntervalMs: positiveDuration(env, 'DURASYNC_TAIL_POLL_INTERVAL', '2s'),
      pageSize: int(env, 'DURASYNC_TAIL_PAGE', 1000, 1, 100_000)!,
    },
    webhooks: webhooks(env),
    priority: loadPriorityConfig(env),
    dev: {
      temporal: oneOf(env, 'DURASYNC_DEV_TEMPORAL', ['embedded', 'external'] as const, 'embedded'),
      uiPort: port(env, 'DURASYNC_DEV_UI_PORT', 8233),
      embeddedPgPort: port(env, 'DURASYNC_EMBEDDED_PG_PORT', 54329),
      demo: oneOf(env, 'DURASYNC_DEMO', ['on', 'off'] as const, 'on') === 'on',
      drivePort: port(env, 'DURASYNC_DEV_DRIVE_PORT', 8091),
      githubPort: port(env, 'DURASYNC_DEV_GITHUB_PORT', 8092),
    },
  };
}
