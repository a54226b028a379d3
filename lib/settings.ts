import { parseDuration } from './duration';
import type { Store, StoredSetting } from './db/store';
import type { Logger } from './logger';
import { API_QUEUES, QUEUES } from './queues';

/**
 * Run-time settings (`settings` table, 0016_settings.sql): values an operator changes with
 * `durasync settings set` and every process sees within DURASYNC_SETTINGS_TTL, without a deploy.
 * SETTINGS is the registry of the keys that exist: which scopes each may be set at, the values it
 * takes, its default and what reads it. A reader asks for a key at a scope (`source:github`,
 * `queue:sync`) and gets the value set at that scope, else the `global` one, else the default.
 *
 * Workflow code never reads settings (it must stay deterministic): an activity reads them and
 * returns what the workflow needs in its result, which history records.
 */

export type ScopeKind = 'global' | 'queue' | 'source';
export type SettingType = 'int' | 'number' | 'bool' | 'duration';

export interface SettingSpec {
  key: string;
  /** Where it may be set; `global` applies to every scope of the key. */
  scopes: readonly ScopeKind[];
  type: SettingType;
  /** Bounds of int, number and duration (milliseconds) values, inclusive. */
  min?: number;
  max?: number;
  /** Used when no scope sets it; null: off (e.g. no rate limit). A reader may pass its own (an environment variable's). */
  default: number | boolean | null;
  /** What reads it, for `durasync settings list` and docs/CONFIGURATION.md. */
  readBy: string;
  about: string;
}

/** Every known setting. */
export const SETTINGS = [
  { key: 'ingest.pages_per_run', scopes: ['global', 'source'], type: 'int', min: 1, max: 1000, default: 50, readBy: 'prepareIngest (ingestSource)', about: 'pages a pull fetches before it continues as new, unless its input says' },
  { key: 'ingest.page_size', scopes: ['global', 'source'], type: 'int', min: 1, max: 100, default: 100, readBy: 'the github source plugin', about: 'events asked per page of a pull (GitHub per_page)' },
  { key: 'provider.rate_per_second', scopes: ['global', 'source'], type: 'number', min: 0.1, max: 10_000, default: null, readBy: 'the github source plugin', about: 'most page requests a second a worker process makes to the provider; unset: no limit but the queue rate' },
  { key: 'jobs.poll_interval', scopes: ['global', 'queue'], type: 'duration', min: 10, max: 3_600_000, default: null, readBy: 'the job bridge, each poll', about: 'pause between polls of sync_jobs that found less than a batch; unset: DURASYNC_JOB_POLL_INTERVAL' },
  { key: 'jobs.batch_size', scopes: ['global', 'queue'], type: 'int', min: 1, max: 1000, default: null, readBy: 'the job bridge, each poll', about: 'most sync_jobs claimed per poll; unset: DURASYNC_JOB_BATCH' },
  { key: 'webhooks.enabled', scopes: ['global', 'source'], type: 'bool', default: true, readBy: 'the ingress, each delivery', about: 'false: the ingress answers 503 to that source\'s deliveries (the sender retries them later)' },
] as const satisfies readonly SettingSpec[];

export type SettingKey = (typeof SETTINGS)[number]['key'];
/** The JS value of a key: booleans for flags, numbers otherwise (durations in milliseconds). */
export type SettingValue<K extends SettingKey> = Extract<(typeof SETTINGS)[number], { key: K }>['type'] extends 'bool' ? boolean : number;

const SPECS = new Map<string, SettingSpec>(SETTINGS.map((s) => [s.key, s]));

/** A key, scope or value the registry refuses; the message is one line naming what is wrong. */
export class InvalidSettingError extends Error {
  override readonly name = 'InvalidSettingError';
}

export function settingSpec(key: string): SettingSpec {
  const spec = SPECS.get(key);
  if (!spec) throw new InvalidSettingError(`unknown setting "${key}": expected one of ${[...SPECS.keys()].join(', ')}`);
  return spec;
}

const SOURCE_NAME = /^[A-Za-z0-9._-]{1,100}$/;
const QUEUE_NAMES: readonly string[] = [...QUEUES, ...API_QUEUES];

/** The kind of a scope: `global`, `queue:<queue>` (sync, ingestion, ..., github-api) or `source:<id>`. */
export function scopeKind(scope: string): ScopeKind {
  if (scope === 'global') return 'global';
  const [kind, name = ''] = [scope.slice(0, scope.indexOf(':')), scope.slice(scope.indexOf(':') + 1)];
  if (kind === 'queue' && QUEUE_NAMES.includes(name)) return 'queue';
  if (kind === 'source' && SOURCE_NAME.test(name)) return 'source';
  throw new InvalidSettingError(`bad scope "${scope}": expected global, queue:<${QUEUE_NAMES.join('|')}> or source:<id>`);
}

/** Checks that `key` may be set at `scope`; throws InvalidSettingError. */
export function checkScope(key: string, scope: string): SettingSpec {
  const spec = settingSpec(key);
  const kind = scopeKind(scope);
  if (!spec.scopes.includes(kind)) throw new InvalidSettingError(`${key} cannot be set at ${scope}: its scopes are ${spec.scopes.map((s) => (s === 'global' ? s : `${s}:<name>`)).join(', ')}`);
  return spec;
}

/** A stored or given value of `spec`, checked; throws InvalidSettingError. */
export function checkValue(spec: SettingSpec, value: unknown): number | boolean {
  const bad = (expected: string) => new InvalidSettingError(`${spec.key}: expected ${expected}, got ${JSON.stringify(value)}`);
  const range = spec.type === 'duration' ? `${spec.min}ms to ${spec.max}ms` : `${spec.min} to ${spec.max}`;
  if (spec.type === 'bool') {
    if (typeof value !== 'boolean') throw bad('true or false');
    return value;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) throw bad(spec.type === 'duration' ? 'a duration in milliseconds' : 'a number');
  if (spec.type !== 'number' && !Number.isInteger(value)) throw bad(`a whole number from ${range}`);
  if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) throw bad(`${range}`);
  return value;
}

/** A value as typed on the command line (`30`, `true`, `2s`), checked against the key's spec. */
export function parseSettingValue(key: string, text: string): number | boolean {
  const spec = settingSpec(key);
  const raw = text.trim();
  let value: unknown = raw;
  if (spec.type === 'bool') value = raw === 'true' || raw === 'on' ? true : raw === 'false' || raw === 'off' ? false : raw;
  else if (spec.type === 'duration') value = parseDuration(raw) ?? raw;
  else if (raw !== '' && Number.isFinite(Number(raw))) value = Number(raw);
  return checkValue(spec, value);
}

/** Where an effective value came from. */
export type SettingSource = 'scope' | 'global' | 'default';

export interface ResolvedSetting {
  key: string;
  /** The scope asked for. */
  scope: string;
  value: number | boolean | null;
  from: SettingSource;
}

/** What consumers depend on (a narrow interface: tests pass a Settings over a real store). */
export interface SettingsReader {
  /**
   * The effective value of `key` for `scope` (default `global`): the scope's, else the global one,
   * else `fallback` (an environment variable's value), else the registry default. Never throws for
   * a known key: an unreachable database keeps the last values read.
   */
  get<K extends SettingKey>(key: K, scope?: string, fallback?: SettingValue<K>): Promise<SettingValue<K> | null>;
}

export interface SettingsOptions {
  store: Pick<Store, 'listSettings'>;
  /** How long values read are used before the table is read again (DURASYNC_SETTINGS_TTL). Default: 10s. */
  ttlMs?: number;
  logger?: Logger;
  /** A read of the table that takes longer fails (and the last values are used). Default: 2s. */
  loadTimeoutMs?: number;
  /** Clock, for tests. Default: Date.now. */
  now?: () => number;
}

export interface SettingsStats {
  /** Reads of the table that succeeded. */
  loads: number;
  /** Reads that failed; the last values read (or the defaults) were used meanwhile. */
  failures: number;
  /** Stored values the registry refuses (set by hand in SQL), ignored. */
  invalid: number;
}

/** DURASYNC_SETTINGS_TTL as lib/config.ts validates it; 10s when unset. */
export function settingsTtlMs(env: NodeJS.ProcessEnv = process.env): number {
  return parseDuration(env.DURASYNC_SETTINGS_TTL ?? '10s') ?? 10_000;
}

/**
 * The reader: one `list_settings` call per TTL whatever the number of keys read (the table is
 * small), shared by concurrent readers. A failed read keeps the previous values until the next TTL
 * and counts a failure; before any read succeeded, the defaults apply.
 */
export class Settings implements SettingsReader {
  private readonly store: Pick<Store, 'listSettings'>;
  private readonly ttlMs: number;
  private readonly loadTimeoutMs: number;
  private readonly now: () => number;
  private readonly logger: Logger | undefined;
  private values = new Map<string, StoredSetting>();
  private loadedAt = -Infinity;
  private loading: Promise<void> | undefined;
  private readonly counts: SettingsStats = { loads: 0, failures: 0, invalid: 0 };

  constructor(options: SettingsOptions) {
    this.store = options.store;
    this.ttlMs = options.ttlMs ?? settingsTtlMs();
    this.loadTimeoutMs = options.loadTimeoutMs ?? 2000;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
  }

  stats(): SettingsStats {
    return { ...this.counts };
  }

  /** Forgets the values read, so the next get reads the table (after `settings set` in the same process). */
  invalidate(): void {
    this.loadedAt = -Infinity;
  }

  async get<K extends SettingKey>(key: K, scope = 'global', fallback?: SettingValue<K>): Promise<SettingValue<K> | null> {
    return (await this.resolve(key, scope, fallback)).value as SettingValue<K> | null;
  }

  /** get() with where the value came from (`durasync settings get`). */
  async resolve(key: string, scope = 'global', fallback?: number | boolean): Promise<ResolvedSetting> {
    const spec = settingSpec(key);
    await this.refresh();
    for (const [at, from] of [[scope, 'scope'], ['global', 'global']] as const) {
      if (from === 'scope' && scope === 'global') continue;
      const stored = this.values.get(`${at}\n${key}`);
      if (!stored) continue;
      try {
        return { key, scope, value: checkValue(spec, stored.value), from: at === 'global' ? 'global' : 'scope' };
      } catch (err) {
        this.counts.invalid++;
        this.logger?.warn({ key, scope: at, err: { message: (err as Error).message } }, 'ignoring a stored setting the registry refuses');
      }
    }
    return { key, scope, value: fallback ?? spec.default, from: 'default' };
  }

  private async refresh(): Promise<void> {
    if (this.now() - this.loadedAt < this.ttlMs) return;
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    await this.loading;
  }

  private async load(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${this.loadTimeoutMs}ms`)), this.loadTimeoutMs);
      });
      const rows = await Promise.race([this.store.listSettings(), timeout]);
      this.values = new Map(rows.map((row) => [`${row.scope}\n${row.key}`, row]));
      this.counts.loads++;
    } catch (err) {
      this.counts.failures++;
      this.logger?.warn({ err: { name: (err as Error).name, message: (err as Error).message }, failures: this.counts.failures }, 'could not read settings; keeping the last values read');
    } finally {
      clearTimeout(timer);
    }
    // A failure waits a TTL too, so an unreachable database is not asked on every read.
    this.loadedAt = this.now();
  }
}

const shared = new WeakMap<object, Settings>();

/** One reader per store object (so a process reads the table once per TTL however many consumers share the store). */
export function settingsFor(store: Pick<Store, 'listSettings'>, options: Omit<SettingsOptions, 'store'> = {}): Settings {
  let settings = shared.get(store);
  if (!settings) {
    settings = new Settings({ store, ...options });
    shared.set(store, settings);
  }
  return settings;
}
