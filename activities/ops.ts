import os from 'node:os';
import { Context } from '@temporalio/activity';
import type { Cache } from '../lib/cache';

/** What the ops activities need: only a ping of each dependency. */
export interface OpsDeps {
  store: { kind: string; ping(): Promise<void> };
  cache: Pick<Cache, 'kind' | 'ping'>;
}

export interface DependencyCheck {
  ok: boolean;
  /** Round trip in milliseconds (measured even when it failed). */
  ms: number;
  /** The adapter in use, e.g. `pg`, `supabase`, `redis`, `memory`. */
  kind: string;
  /** Why it failed: an error class and message, never a connection string. */
  error?: string;
}

export interface ProbeResult {
  taskQueue: string;
  worker: { pid: number; hostname: string };
  database: DependencyCheck;
  cache: DependencyCheck;
}

async function check(kind: string, ping: () => Promise<void>): Promise<DependencyCheck> {
  const started = performance.now();
  try {
    await ping();
    return { ok: true, kind, ms: Math.round((performance.now() - started) * 100) / 100 };
  } catch (err) {
    const e = err as Error;
    return { ok: false, kind, ms: Math.round(performance.now() - started), error: `${e.name}: ${e.message}` };
  }
}

export interface ProbeOptions {
  /**
   * Keep the activity running this long after the checks, heartbeating every second: holds a slot
   * of the worker, to watch drains, failover to another worker and scaling. Default: 0.
   */
  holdMs?: number;
}

/** Activities of the canary workflow: run on every queue, they prove a queue's workers can reach their dependencies. */
export function createOpsActivities(deps: OpsDeps) {
  return {
    /** Pings the database and the cache from the worker that picked up the task. */
    async probeDependencies(options: ProbeOptions = {}): Promise<ProbeResult> {
      const [database, cache] = await Promise.all([
        check(deps.store.kind, () => deps.store.ping()),
        check(deps.cache.kind, () => deps.cache.ping()),
      ]);
      const ctx = Context.current();
      for (let held = 0; held < (options.holdMs ?? 0); held += 1000) {
        ctx.heartbeat({ held });
        await ctx.sleep(Math.min(1000, (options.holdMs ?? 0) - held)); // rejects if the activity is cancelled
      }
      return {
        taskQueue: Context.current().info.taskQueue,
        worker: { pid: process.pid, hostname: os.hostname() },
        database,
        cache,
      };
    },
  };
}

export type OpsActivities = ReturnType<typeof createOpsActivities>;
