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
    expect(config.dev).toEqual({ temporal: 'embedded', uiPort: 8233, embeddedPgPort: 54329 });
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
  ])('refuses %j with one line naming %s', (env, variable, text) => {
    const err = configError(env);
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(`${variable}: `)).toBe(true);
    expect(err.message).toContain(text);
    expect(err.message).not.toContain('\n');
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
