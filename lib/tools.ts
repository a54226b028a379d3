import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './paths';

/**
 * Finds the Temporal binaries that scripts/setup.sh provisions. Order: the environment variable
 * naming the binary, then .tools/venv/bin (pinned by the setup script), then PATH. Nothing is ever
 * downloaded: a missing binary is an error that says how to get it.
 */
export type TemporalBinary = 'temporal' | 'temporal-test-server';

const ENV_VARS: Record<TemporalBinary, string> = {
  temporal: 'TEMPORAL_CLI_PATH',
  'temporal-test-server': 'TEMPORAL_TEST_SERVER_PATH',
};

export function findTemporalBinary(name: TemporalBinary, env: NodeJS.ProcessEnv = process.env): string {
  const variable = ENV_VARS[name];
  const given = env[variable];
  if (given) {
    if (!isExecutable(given)) throw new Error(`${variable}: ${given} is not an executable file`);
    return given;
  }
  const candidates = [
    path.join(PROJECT_ROOT, '.tools', 'venv', 'bin', name),
    ...(env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, name)),
  ];
  const found = candidates.find(isExecutable);
  if (!found) {
    throw new Error(`${name} not found: run 'npm run setup' (or set ${variable} to the binary's path)`);
  }
  return found;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
