import { loadConfig } from '../lib/config';
import { ConfigError } from '../lib/errors';
import { parseDuration } from '../lib/duration';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('configuration', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config.temporal.address).toBe('127.0.0.1:7233');
    expect(config.temporal.namespace).toBe('default');
    expect(config.temporal.taskQueuePrefix).toBe('');
    expect(config.ops.port).toBe(8080);
    expect(config.ingress.port).toBe(8088);
    expect(config.worker.queues).toEqual(['sync', 'ingestion', 'branch-delta']);
    expect(config.worker.shutdownGraceMs).toBe(30_000);
    expect(config.database.url).toBeUndefined();
    expect(config.redis.url).toBeUndefined();
    expect(config.logLevel).toBe('info');
    expect(config.dev).toEqual({ temporal: 'embedded', uiPort: 8233, embeddedPgPort: 54329, demo: true, drivePort: 8091, githubPort: 8092 });
  });

  it('reads the task priorities and the urgent webhook events', () => {
    expect(loadConfig({}).priority).toEqual({ urgent: 1, bulk: 4, urgentWebhookEvents: ['push', 'pull_request'] });
    const config = loadConfig({ DURASYNC_PRIORITY_URGENT: '2', DURASYNC_PRIORITY_BULK: '5', DURASYNC_URGENT_WEBHOOK_EVENTS: 'push, linear:Issue' });
    expect(config.priority).toEqual({ urgent: 2, bulk: 5, urgentWebhookEvents: ['push', 'linear:Issue'] });
  });

  it('sizes workers, rates, the supervisor and Worker Versioning from their variables', () => {
    const config = loadConfig({
      DURASYNC_QUEUES: 'sync,ingestion',
      DURASYNC_TUNER: 'resource',
      DURASYNC_TUNER_TARGET_CPU: '0.7',
      DURASYNC_QUEUE_RATES: 'sync=1.5, ingestion=10',
      DURASYNC_WORKER_MODE: 'isolated',
      DURASYNC_WORKER_VERSIONING: 'on',
      DURASYNC_BUILD_ID: '1.2.3+abc',
    });
    expect(config.worker.tuner).toEqual({ targetMemoryUsage: 0.8, targetCpuUsage: 0.7 });
    // The provider queues keep their default pace unless named.
    expect(config.worker.rates).toEqual({ sync: 1.5, ingestion: 10, 'github-api': 20, 'drive-api': 20 });
    expect(config.manager).toMatchObject({ mode: 'isolated', processes: { sync: 1, ingestion: 1 }, maxRestarts: 5, restartBackoffMs: 1000, restartWindowMs: 60_000 });
    expect(config.worker.versioning).toEqual({ enabled: true, deploymentName: 'durasync', buildId: '1.2.3+abc', defaultBehavior: 'AUTO_UPGRADE' });
    expect(loadConfig({}).worker.versioning.buildId).toMatch(/^\d+\.\d+\.\d+(\+[0-9a-f]{7,12})?$/);
  });

  it('takes Temporal Cloud settings from the SDK envconfig variables, API key turning TLS on', () => {
    const config = loadConfig({
      TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'my-ns.a1b2c',
      TEMPORAL_API_KEY: 'key-123',
    });
    expect(config.temporal.address).toBe('my-ns.a1b2c.tmprl.cloud:7233');
    expect(config.temporal.namespace).toBe('my-ns.a1b2c');
    expect(config.temporal.connectionOptions).toMatchObject({ apiKey: 'key-123', tls: true });
  });

  it.each([
    [{ TEMPORAL_ADDRESS: 'nope' }, 'TEMPORAL_ADDRESS', 'expected host:port (e.g. 127.0.0.1:7233), got "nope"'],
    [{ TEMPORAL_ADDRESS: 'localhost:99999' }, 'TEMPORAL_ADDRESS', 'got "localhost:99999"'],
    [{ DURASYNC_OPS_PORT: 'eighty' }, 'DURASYNC_OPS_PORT', 'expected a whole number from 0 to 65535, got "eighty"'],
    [{ DURASYNC_QUEUES: 'sync,emails' }, 'DURASYNC_QUEUES', 'unknown queue "emails"'],
    [{ DURASYNC_SHUTDOWN_GRACE: 'soon' }, 'DURASYNC_SHUTDOWN_GRACE', 'expected a duration such as 30s'],
    [{ DATABASE_URL: 'mysql://db/x' }, 'DATABASE_URL', 'expected a postgres or postgresql URL, got a mysql URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL', 'expected a URL (redis or rediss)'],
    [{ SUPABASE_URL: 'https://x.supabase.co' }, 'SUPABASE_SERVICE_ROLE_KEY', 'required when SUPABASE_URL is set'],
    [{ DURASYNC_LOG_LEVEL: 'loud' }, 'DURASYNC_LOG_LEVEL', 'expected one of trace, debug, info'],
    [{ DURASYNC_TASK_QUEUE_PREFIX: 'a b' }, 'DURASYNC_TASK_QUEUE_PREFIX', 'letters, digits'],
    [{ DURASYNC_DEV_TEMPORAL: 'cloud' }, 'DURASYNC_DEV_TEMPORAL', 'expected one of embedded, external'],
    [{ DURASYNC_QUEUE_RATES: 'sync=fast' }, 'DURASYNC_QUEUE_RATES', 'got "sync=fast"'],
    [{ DURASYNC_QUEUE_RATES: 'emails=1' }, 'DURASYNC_QUEUE_RATES', 'got "emails=1"'],
    [{ DURASYNC_TUNER: 'resource', DURASYNC_TUNER_TARGET_MEM: '1.5' }, 'DURASYNC_TUNER_TARGET_MEM', 'expected a fraction above 0 and at most 1'],
    [{ DURASYNC_TUNER: 'resource', DURASYNC_MAX_CONCURRENT_ACTIVITIES: '10' }, 'DURASYNC_TUNER', 'cannot be combined'],
    [{ DURASYNC_MANAGER_PROCESSES: 'sync=21' }, 'DURASYNC_MANAGER_PROCESSES', 'with 1 to 20 processes'],
    [{ DURASYNC_MANAGER_RESTART_WINDOW: 'a while' }, 'DURASYNC_MANAGER_RESTART_WINDOW', 'expected a duration'],
    [{ DURASYNC_TOKEN_KEY: 'k1:c2hvcnQ=' }, 'DURASYNC_TOKEN_KEY', 'expected 32 bytes'],
    [{ DURASYNC_WORKER_MODE: 'threads' }, 'DURASYNC_WORKER_MODE', 'expected one of concurrent, isolated'],
    [{ DURASYNC_VERSIONING_BEHAVIOR: 'pinned' }, 'DURASYNC_VERSIONING_BEHAVIOR', 'expected one of PINNED, AUTO_UPGRADE'],
    [{ DURASYNC_PRIORITY_URGENT: '0' }, 'DURASYNC_PRIORITY_URGENT', 'expected a whole number from 1 to 5'],
    [{ DURASYNC_PRIORITY_BULK: '1' }, 'DURASYNC_PRIORITY_BULK', 'must be a larger number (less urgent) than DURASYNC_PRIORITY_URGENT (1)'],
    [{ DURASYNC_URGENT_WEBHOOK_EVENTS: 'push,pull request' }, 'DURASYNC_URGENT_WEBHOOK_EVENTS', 'got "pull request"'],
    // Values holding line breaks and control characters stay on the one line, as JSON escapes.
    [{ DURASYNC_QUEUES: 'sync,em\nails' }, 'DURASYNC_QUEUES', 'unknown queue "em\\nails"'],
    [{ DURASYNC_WEBHOOK_SOURCES: 'a\u2028b:S:x-sig:x-del:x-ev', S: 'x' }, 'DURASYNC_WEBHOOK_SOURCES', 'source name "a\\u2028b"'],
    [{ DURASYNC_WEBHOOK_SOURCES: 'ab:S\rT:x-sig:x-del:x-ev' }, 'DURASYNC_WEBHOOK_SOURCES', '"S\\rT" is not an environment variable name'],
    [{ DURASYNC_WEBHOOK_SOURCES: 'ab:S:x\u001bsig:x-del:x-ev', S: 'x' }, 'DURASYNC_WEBHOOK_SOURCES', '"x\\u001bsig" is not a header name'],
  ])('refuses %j with one line naming %s', (env, variable, text) => {
    const err = configError(env);
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(`${variable}: `)).toBe(true);
    expect(err.message).toContain(text);
    expect(err.message).not.toMatch(/[\u0000-\u001f\u2028\u2029]/);
  });

  it('never echoes a bad URL back, since it may hold a password', () => {
    const err = configError({ DATABASE_URL: 'mysql://user:hunter2@db/x' });
    expect(err.message).not.toContain('hunter2');
  });

  it('parses durations with units and refuses anything else', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1500')).toBe(1500);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration('-1s')).toBeUndefined();
  });
});
