import { loadConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { signBody, verifySignature } from '../../lib/webhooks/signature';

describe('webhook configuration', () => {
  it('defaults: no GitHub secret, 25 MB bodies, no other sources, bridge off on webhook_events, 60 s claim idle', () => {
    expect(loadConfig({}).webhooks).toEqual({
      githubSecret: undefined,
      maxBodyBytes: 25 * 1024 * 1024,
      sources: [],
      stream: { bridge: false, key: 'webhook_events', claimIdleMs: 60_000 },
    });
  });

  it('reads the sources with their secrets and lower-cased headers', () => {
    const config = loadConfig({ DURASYNC_WEBHOOK_SOURCES: 'acme:ACME_SECRET:X-Acme-Signature:X-Acme-Delivery:X-Acme-Event', ACME_SECRET: 's3', GITHUB_WEBHOOK_SECRET: 'gh', DURASYNC_WEBHOOK_MAX_BODY: '1MB' });
    expect(config.webhooks.githubSecret).toBe('gh');
    expect(config.webhooks.maxBodyBytes).toBe(1024 * 1024);
    expect(config.webhooks.sources).toEqual([{ name: 'acme', secretVar: 'ACME_SECRET', secret: 's3', signatureHeader: 'x-acme-signature', deliveryHeader: 'x-acme-delivery', eventHeader: 'x-acme-event' }]);
  });

  it.each([
    [{ DURASYNC_WEBHOOK_SOURCES: 'acme:ACME_SECRET:x-sig' }, 'DURASYNC_WEBHOOK_SOURCES: expected name:SECRET_VAR'],
    [{ DURASYNC_WEBHOOK_SOURCES: 'acme:ACME_SECRET:x-sig:x-del:x-ev' }, 'its secret variable ACME_SECRET is not set'],
    [{ DURASYNC_WEBHOOK_SOURCES: 'github:S:x-sig:x-del:x-ev', S: 'x' }, 'built in'],
    [{ DURASYNC_WEBHOOK_SOURCES: 'Acme:S:x-sig:x-del:x-ev', S: 'x' }, 'lower-case'],
    [{ DURASYNC_WEBHOOK_SOURCES: 'a:S:x sig:x-del:x-ev', S: 'x' }, 'is not a header name'],
    [{ DURASYNC_WEBHOOK_SOURCES: 'a:S:x-sig:x-del:x-ev,a:S:x-sig:x-del:x-ev', S: 'x' }, 'listed twice'],
    [{ DURASYNC_WEBHOOK_STREAM_BRIDGE: 'on' }, 'DURASYNC_WEBHOOK_STREAM_BRIDGE: on needs REDIS_URL'],
    [{ DURASYNC_WEBHOOK_STREAM_BRIDGE: 'yes' }, 'DURASYNC_WEBHOOK_STREAM_BRIDGE: expected one of on, off'],
    [{ DURASYNC_WEBHOOK_STREAM_CLAIM_IDLE: '0s' }, 'DURASYNC_WEBHOOK_STREAM_CLAIM_IDLE: expected a duration above zero'],
    [{ DURASYNC_WEBHOOK_MAX_BODY: 'lots' }, 'DURASYNC_WEBHOOK_MAX_BODY: expected a size'],
  ])('refuses %j with one line', (env, message) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as Error).message)).toContain(message);
    expect(String((error as Error).message)).not.toContain('\n');
  });

  it('verifies sha256 signatures only, in constant time', () => {
    const body = Buffer.from('{"a":1}');
    expect(verifySignature('k', body, signBody('k', body))).toBe(true);
    expect(verifySignature('k', body, signBody('k', body).toUpperCase().replace('SHA256=', 'sha256='))).toBe(true);
    expect(verifySignature('k', body, signBody('other', body))).toBe(false);
    expect(verifySignature('k', body, signBody('k', body).slice(7))).toBe(false);
    expect(verifySignature('k', body, signBody('k', body).slice(7), { allowBareHex: true })).toBe(true);
    expect(verifySignature('k', body, [signBody('k', body)])).toBe(false);
    expect(verifySignature('k', body, undefined)).toBe(false);
  });
});
