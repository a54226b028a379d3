import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './paths';

/**
 * The version and build id of this code, for Worker Versioning: the package version plus the git
 * commit, e.g. `0.1.0+3f2c1ab`. `npm run build` records them in dist/build-info.json so that a
 * deployed build (without .git) reports the same id; in a checkout they are read from .git.
 */
export interface BuildInfo {
  version: string;
  commit?: string;
  buildId: string;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The commit HEAD points at, read from .git without the git binary. */
export function gitCommit(root = PROJECT_ROOT): string | undefined {
  try {
    const head = readFileSync(path.join(root, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head.slice(0, 12) || undefined;
    const ref = head.slice(5);
    try {
      return readFileSync(path.join(root, '.git', ref), 'utf8').trim().slice(0, 12);
    } catch {
      const packed = readFileSync(path.join(root, '.git', 'packed-refs'), 'utf8');
      return packed.split('\n').find((line) => line.endsWith(` ${ref}`))?.slice(0, 12);
    }
  } catch {
    return undefined;
  }
}

export function buildInfo(root = PROJECT_ROOT): BuildInfo {
  const recorded = readJson<BuildInfo>(path.join(root, 'dist', 'build-info.json'));
  if (recorded?.buildId) return recorded;
  const version = readJson<{ version: string }>(path.join(root, 'package.json'))?.version ?? '0.0.0';
  const commit = gitCommit(root);
  return { version, commit, buildId: commit ? `${version}+${commit}` : version };
}
