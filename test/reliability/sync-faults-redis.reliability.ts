import { taskQueueName } from '../../lib/queues';
import type { SyncRunResult } from '../../workflows';
import { hasRedisServer, startPrivateRedis, type PrivateRedis } from '../helpers/private-redis';
import { startSyncHarness, type SyncHarness } from '../helpers/sync';
import { recordScenario, sized, sleep } from './results';

/**
 * Scenario `sync-faults-redis`: concurrent syncLink workflows (each link: files on both sides)
 * against the Drive and GitHub emulators while they answer storms of 5xx and 429 and drop
 * connections, and the Redis of the token cache (a private redis-server) is SIGKILLed mid-way.
 * Then: every run finished `synced`, each file exactly once on both sides (no duplicate in Drive),
 * the token service counted the cache as unavailable (it degraded, it did not fail).
 * Size: RELIABILITY_SYNC_WORKFLOWS (1,000; ci 50).
 */
const LINKS = sized('RELIABILITY_SYNC_WORKFLOWS', { full: 1_000, ci: 50 });
const FILES_PER_SIDE = 3;
/**
 * Links per user. A sync makes about ten GitHub calls, and each user's token has GitHub's 5,000
 * requests an hour (the emulator enforces it): 1,000 links of one user would use it up, and the
 * runs would then wait for the reset, an hour away (RateLimited with nextRetryDelay). Spread over
 * users, as a thousand links are in production.
 */
const LINKS_PER_USER = 50;
/** Storms, one a second: long enough to hit every phase of the runs, bounded so retries can finish. */
const STORM_SECONDS = sized('RELIABILITY_SYNC_STORM_SECONDS', { full: 60, ci: 15 });

(hasRedisServer ? describe : describe.skip)('reliability: concurrent syncs under emulator fault storms and a Redis outage', () => {
  let h: SyncHarness;
  let redis: PrivateRedis;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    h = await startSyncHarness({ redisUrl: redis.url, logLevel: 'warn' });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
    await redis?.kill();
  });

  it(`finishes ${LINKS} concurrent sync workflows with each file once on the other side`, async () => {
    const started = Date.now();
    const links: Array<{ linkId: string; folderId: string; repo: string; expected: Record<string, string> }> = [];
    const users: string[] = [];
    for (let l = 0; l < LINKS; l++) {
      if (l % LINKS_PER_USER === 0) users.push(await h.createUser());
      const githubFiles = Object.fromEntries(Array.from({ length: FILES_PER_SIDE }, (_, i) => [`g${i}.md`, `github ${l}/${i}\n`]));
      const { link, folderId, repo } = await h.createLink({ files: githubFiles, userId: users.at(-1)! });
      const expected: Record<string, string> = { ...githubFiles };
      for (let i = 0; i < FILES_PER_SIDE; i++) {
        h.drive.seed.file({ name: `d${i}.md`, parentId: folderId, content: `drive ${l}/${i}\n` });
        expected[`d${i}.md`] = `drive ${l}/${i}\n`;
      }
      links.push({ linkId: link.id, folderId, repo, expected });
    }

    // Storms, re-armed every second while the runs go (for STORM_SECONDS): drops, 429 bursts, 5xx on both emulators.
    const injected = { drive429: 0, drive5xx: 0, driveDrops: 0, github429: 0, github5xx: 0, githubDrops: 0, storms: 0 };
    const storms = (async () => {
      for (let s = 0; s < STORM_SECONDS; s++) {
        const kind = s % 3;
        if (kind === 0) {
          h.drive.faults.set({ rateLimitBurst: { count: 5, retryAfterSec: 1 } });
          h.github.faults.set({ secondaryLimit: { count: 4, retryAfterSec: 1, status: 429 } });
          injected.drive429 += 5;
          injected.github429 += 4;
        } else if (kind === 1) {
          h.drive.faults.set({ status5xx: 5 });
          h.github.faults.set({ status5xx: 5 });
          injected.drive5xx += 5;
          injected.github5xx += 5;
        } else {
          h.drive.faults.set({ dropConnections: 3 });
          h.github.faults.set({ dropConnections: 3 });
          injected.driveDrops += 3;
          injected.githubDrops += 3;
        }
        injected.storms++;
        await sleep(1_000);
      }
    })();

    const handles = await Promise.all(
      links.map((link) =>
        h.client.workflow.start('syncLink', {
          taskQueue: taskQueueName('sync', h.taskQueuePrefix),
          workflowId: `sync:${link.linkId}`,
          args: [{ linkId: link.linkId }],
          workflowExecutionTimeout: '30m',
        }),
      ),
    );
    // Redis goes once some runs have finished or a few seconds have passed.
    let finished = 0;
    const results = handles.map((handle) =>
      (handle.result() as Promise<SyncRunResult>).then(
        (r) => {
          finished++;
          return r;
        },
        (err: unknown) => {
          finished++;
          return err as Error;
        },
      ),
    );
    const deadline = Date.now() + 10_000;
    while (finished < Math.max(1, LINKS / 5) && Date.now() < deadline) await sleep(100);
    const finishedBeforeRedisStop = finished;
    await redis.kill();

    await storms;
    const stormsOverAt = finished;
    h.drive.faults.reset();
    h.github.faults.reset();
    const runs = await Promise.all(results);

    const failed = runs.filter((r) => r instanceof Error || r.status !== 'synced');
    let wrongGithub = 0;
    let wrongDrive = 0;
    let duplicates = 0;
    for (const link of links) {
      if (JSON.stringify(sortKeys(h.repoTexts(link.repo))) !== JSON.stringify(sortKeys(link.expected))) wrongGithub++;
      if (JSON.stringify(sortKeys(h.driveTexts(link.folderId))) !== JSON.stringify(sortKeys(link.expected))) wrongDrive++;
      duplicates += h.driveDuplicates(link.folderId).length;
    }
    const commits = runs.reduce((acc, r) => acc + (r instanceof Error ? 0 : r.toGithub.commits.length), 0);
    const cacheSkipped = Object.values(h.cacheUnavailable()).reduce((a, b) => a + b, 0);

    recordScenario(started, {
      scenario: 'sync-faults-redis',
      title: 'Concurrent sync workflows under emulator fault storms, with Redis stopped',
      injected: [
        `${LINKS} syncLink workflows started at once, each link with ${FILES_PER_SIDE} files in GitHub and ${FILES_PER_SIDE} in Drive (emulators), ${users.length} users with ${LINKS_PER_USER} links each (each user's GitHub token has 5,000 requests an hour)`,
        `fault storms re-armed every second on both emulators for the first ${injected.storms} s of the runs: 429 bursts (Drive rateLimitExceeded, GitHub secondary limit), 503s, dropped connections`,
        `the token cache's Redis (a private redis-server) SIGKILLed after ${finishedBeforeRedisStop} runs had finished, not started again`,
      ],
      checked: [
        'every workflow finished with status `synced` (none failed, none left running)',
        "each link's files are exactly once on both sides: the repository and the Drive folder hold the union, no duplicate names in Drive",
        'the token service degraded to no cache (counted as cache unavailable) instead of failing',
      ],
      counts: {
        workflows: LINKS,
        users: users.length,
        synced: runs.length - failed.length,
        failed_or_not_synced: failed.length,
        files_per_link: FILES_PER_SIDE * 2,
        links_github_wrong: wrongGithub,
        links_drive_wrong: wrongDrive,
        drive_duplicates: duplicates,
        github_commits: commits,
        finished_before_redis_stop: finishedBeforeRedisStop,
        finished_while_storming: stormsOverAt,
        token_cache_skipped_ops: cacheSkipped,
        faults_armed_drive_429: injected.drive429,
        faults_armed_drive_5xx: injected.drive5xx,
        faults_armed_drive_drops: injected.driveDrops,
        faults_armed_github_429: injected.github429,
        faults_armed_github_5xx: injected.github5xx,
        faults_armed_github_drops: injected.githubDrops,
      },
    });

    expect(failed.map((r) => (r instanceof Error ? failureChain(r) : `${r.linkId}: ${r.status} ${r.reason ?? ''}`))).toEqual([]);
    expect(wrongGithub).toBe(0);
    expect(wrongDrive).toBe(0);
    expect(duplicates).toBe(0);
    expect(commits).toBe(LINKS);
    expect(cacheSkipped).toBeGreaterThan(0);
  }, 60 * 60_000);
});

function sortKeys(record: Record<string, string>): Array<[string, string]> {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}

/** A failed run's messages from the workflow failure down to the root cause (the type where there is one). */
function failureChain(err: Error): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) {
    const type = (e as { type?: unknown }).type;
    parts.push(typeof type === 'string' ? `${type}: ${e.message}` : e.message);
  }
  return parts.join(' <- ');
}
