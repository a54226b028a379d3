import type { DriveChange, GithubChange, SyncConflict } from './types';
import type { ConflictPolicy } from '../../lib/db/types';

/**
 * Decides what a sync run writes where, from both sides' changes since the last sync. Pure and
 * deterministic: the workflow calls it between its listing and its writing activities.
 *
 * A path changed on one side only goes to the other. A path changed on both sides is a conflict,
 * unless both now hold the same content (compared by the sha256 of what was staged) or both
 * deleted it. Conflicts follow the link's policy:
 * - `keep-both`: GitHub's version stays at the path; Drive's is kept beside it, in both places, as
 *   `name (conflict from Drive).ext`. An edit against a deletion keeps the edit (nothing is lost).
 * - `drive-wins` / `github-wins`: that side's change (edit or deletion) is applied to the other.
 */
export interface PlanInput {
  drive: DriveChange[];
  github: GithubChange[];
  /** sha256 of each staged Drive upsert / GitHub upsert, by path. */
  driveHashes: Record<string, string>;
  githubHashes: Record<string, string>;
  policy: ConflictPolicy;
}

export interface RunPlan {
  toGithub: { writes: Array<{ path: string; stagedPath: string }>; deletes: string[] };
  toDrive: {
    writes: Array<{ path: string; stagedPath: string; sourceSha: string; previousPath?: string }>;
    trash: string[];
    /** keep-both: Drive files moved aside (they keep Drive's content). */
    renames: Array<{ fileId: string; from: string; to: string; isDoc?: boolean }>;
  };
  /** Paths both sides changed to the same state: only the file map is written. */
  settled: Array<{ path: string; drive: DriveChange; github: GithubChange }>;
  conflicts: SyncConflict[];
}

export const CONFLICT_SUFFIX = ' (conflict from Drive)';

/** `notes/a.md` -> `notes/a (conflict from Drive).md`. */
export function conflictPath(path: string): string {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  const cut = dot > slash + 1 ? dot : path.length;
  return `${path.slice(0, cut)}${CONFLICT_SUFFIX}${path.slice(cut)}`;
}

const side = (change: { kind: 'upsert' | 'delete' }) => (change.kind === 'upsert' ? 'edit' : 'delete');

export function planRun(input: PlanInput): RunPlan {
  const plan: RunPlan = { toGithub: { writes: [], deletes: [] }, toDrive: { writes: [], trash: [], renames: [] }, settled: [], conflicts: [] };
  const githubByPath = new Map(input.github.map((c) => [c.path, c]));
  const driveByPath = new Map(input.drive.map((c) => [c.path, c]));

  const driveToGithub = (d: DriveChange) => {
    if (d.kind === 'upsert') {
      plan.toGithub.writes.push({ path: d.path, stagedPath: d.path });
      // A rename or move: the old path goes, unless GitHub changed it meanwhile.
      if (d.previousPath && !githubByPath.has(d.previousPath) && !driveByPath.has(d.previousPath)) plan.toGithub.deletes.push(d.previousPath);
    } else {
      plan.toGithub.deletes.push(d.path);
    }
  };
  const githubToDrive = (g: GithubChange) => {
    if (g.kind === 'upsert') {
      const movedFrom = g.previousPath && !driveByPath.has(g.previousPath) ? { previousPath: g.previousPath } : {};
      plan.toDrive.writes.push({ path: g.path, stagedPath: g.path, sourceSha: g.sha ?? '', ...movedFrom });
    } else {
      plan.toDrive.trash.push(g.path);
    }
  };

  for (const d of input.drive) {
    const g = githubByPath.get(d.path);
    if (!g) {
      driveToGithub(d);
      continue;
    }
    if (d.kind === 'delete' && g.kind === 'delete') {
      plan.settled.push({ path: d.path, drive: d, github: g });
      continue;
    }
    if (d.kind === 'upsert' && g.kind === 'upsert' && input.driveHashes[d.path] !== undefined && input.driveHashes[d.path] === input.githubHashes[g.path]) {
      plan.settled.push({ path: d.path, drive: d, github: g });
      continue;
    }
    const conflict: SyncConflict = { path: d.path, policy: input.policy, drive: side(d), github: side(g) };
    plan.conflicts.push(conflict);
    if (input.policy === 'drive-wins') {
      driveToGithub(d);
    } else if (input.policy === 'github-wins') {
      githubToDrive(g);
    } else if (d.kind === 'upsert' && g.kind === 'upsert') {
      const keptAs = conflictPath(d.path);
      conflict.keptAs = keptAs;
      plan.toGithub.writes.push({ path: keptAs, stagedPath: d.path });
      plan.toDrive.renames.push({ fileId: d.fileId, from: d.path, to: keptAs, ...(d.isDoc ? { isDoc: true } : {}) });
      plan.toDrive.writes.push({ path: d.path, stagedPath: g.path, sourceSha: g.sha ?? '' });
    } else if (d.kind === 'upsert') {
      driveToGithub(d); // GitHub deleted what Drive edited: the edit is restored in GitHub
    } else {
      githubToDrive(g); // Drive deleted what GitHub edited: the edit is restored in Drive
    }
  }
  for (const g of input.github) if (!driveByPath.has(g.path)) githubToDrive(g);
  return plan;
}
