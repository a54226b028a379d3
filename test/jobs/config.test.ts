import { loadConfig } from '../../lib/config';

describe('job bridge configuration', () => {
  it('defaults to on, polling every second, a 60 s lease and batches of 10', () => {
    expect(loadConfig({}).jobs).toEqual({ bridge: true, pollIntervalMs: 1_000, leaseMs: 60_000, batchSize: 10 });
  });

  it('reads DURASYNC_JOB_* and refuses bad values naming the variable', () => {
    const env = { DURASYNC_JOB_BRIDGE: 'off', DURASYNC_JOB_POLL_INTERVAL: '250ms', DURASYNC_JOB_LEASE: '5m', DURASYNC_JOB_BATCH: '50' };
    expect(loadConfig(env).jobs).toEqual({ bridge: false, pollIntervalMs: 250, leaseMs: 300_000, batchSize: 50 });
    expect(() => loadConfig({ DURASYNC_JOB_BRIDGE: 'yes' })).toThrow(/DURASYNC_JOB_BRIDGE/);
    expect(() => loadConfig({ DURASYNC_JOB_POLL_INTERVAL: '0s' })).toThrow(/DURASYNC_JOB_POLL_INTERVAL: expected a duration above zero/);
    expect(() => loadConfig({ DURASYNC_JOB_LEASE: 'soon' })).toThrow(/DURASYNC_JOB_LEASE/);
    expect(() => loadConfig({ DURASYNC_JOB_BATCH: '0' })).toThrow(/DURASYNC_JOB_BATCH/);
  });
});
