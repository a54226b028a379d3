import type { DurasyncConfig } from '../lib/config';

/** A URL with any password removed, for printing. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

export interface BannerInput {
  /** The configuration as given, and as dev completed it (database, providers). */
  config: DurasyncConfig;
  env: DurasyncConfig;
  uiUrl?: string;
  opsUrl: string;
  ingressUrl: string;
  taskQueues: string[];
  /** The demo's emulators, when dev runs the demo. */
  emulators?: { drive: string; github: string };
}

/** What `npm run dev` prints once everything is up: where each part runs, then what to look at and try. */
export function readyBanner({ config, env, uiUrl, opsUrl, ingressUrl, taskQueues, emulators }: BannerInput): string {
  const ui = uiUrl ?? '(the UI of the server at TEMPORAL_ADDRESS)';
  const lines = [
    '',
    'durasync dev is running',
    `  Temporal        ${config.temporal.address} (namespace ${config.temporal.namespace})`,
    `  Temporal Web UI ${ui}`,
    `  database        ${env.database.supabase ? `Supabase ${env.database.supabase.url}` : redactUrl(env.database.url!)}${config.database.url ? '' : ' (embedded PGlite)'}`,
    `  cache           ${config.redis.url ? redactUrl(config.redis.url) : 'in-process (REDIS_URL not set)'}`,
    `  workers         ${taskQueues.join(', ')}`,
    `  ops server      ${opsUrl}  (/health/ready, /metrics)`,
    `  ingress         ${ingressUrl}`,
  ];
  if (emulators) {
    lines.push(`  Google Drive    ${emulators.drive.replace(/\/$/, '')}  (emulator, demo workspace)`, `  GitHub          ${emulators.github}  (emulator, demo workspace)`);
  }
  lines.push('  Ctrl-C stops everything.', '');
  if (emulators) {
    lines.push(
      'The demo workspace: Drive folder "durasync demo" <-> GitHub demo/notes, synced every minute.',
      `  Open ${ui} : within a minute, syncLink runs (each direction), processWebhookEvent runs for`,
      '  the pushes the sync made, a branchDeltas workflow with deltas, and the Schedules page.',
      '  Then, in another terminal:',
      '    npx durasync demo edit        # edit the Drive doc; the next sync commits it to GitHub',
      '    npx durasync demo push        # push to demo/notes; it reaches Drive and is ingested as a webhook',
      '    npx durasync demo changes     # a burst of branch changes; watch branchDeltas commit deltas',
      '    npx durasync links list       # the CLI finds this workspace: no variables to set',
      '',
    );
  }
  return lines.join('\n');
}
