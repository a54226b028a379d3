import { freePort } from '../../lib/net';

/** Ports of a `durasync dev` run, all free, moved off the defaults so that tests run beside a developer's own dev. */
export interface DevPorts {
  temporal: number;
  ui: number;
  ops: number;
  ingress: number;
  pg: number;
  drive: number;
  github: number;
}

/** The environment of a `durasync dev` on embedded defaults in `dataDir`, on free ports. */
export async function devEnvironment(dataDir: string): Promise<{ env: Record<string, string | undefined>; ports: DevPorts }> {
  const [temporal, ui, ops, ingress, pg, drive, github] = await Promise.all(Array.from({ length: 7 }, () => freePort()));
  const ports: DevPorts = { temporal: temporal!, ui: ui!, ops: ops!, ingress: ingress!, pg: pg!, drive: drive!, github: github! };
  return {
    ports,
    env: {
      TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
      DURASYNC_DEV_TEMPORAL: 'embedded',
      DURASYNC_DEV_UI_PORT: String(ports.ui),
      DURASYNC_OPS_PORT: String(ports.ops),
      DURASYNC_INGRESS_PORT: String(ports.ingress),
      DURASYNC_EMBEDDED_PG_PORT: String(ports.pg),
      DURASYNC_DEV_DRIVE_PORT: String(ports.drive),
      DURASYNC_DEV_GITHUB_PORT: String(ports.github),
      DURASYNC_DATA_DIR: dataDir,
      DATABASE_URL: '',
      REDIS_URL: '',
      DURASYNC_WORKFLOW_BUNDLE: process.env.DURASYNC_TEST_WORKFLOW_BUNDLE,
    },
  };
}
