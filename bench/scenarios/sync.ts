/**
 * Scenario `sync`: syncLink runs (workflows/sync/sync-link.ts) against the Drive and GitHub
 * emulators (emulators/drive, emulators/github) answering every call after `--latency-ms` (default
 * 30), with workers for `sync`, `drive-api` and `github-api` built as `durasync worker` builds them
 * (in this process), a fresh headless Temporal dev server, and a scratch database on DATABASE_URL's
 * Postgres server (dropped after), else the embedded PGlite. Every link syncs `both` ways (the
 * product's default direction); one link per direction of interest:
 *
 * - `drive_initial`: `--files` text files (2-4 KB each; a tenth at the folder's root, the rest in
 *   two levels of nested folders) in a Drive folder, an empty repository: the first run;
 * - `drive_incremental`: `--changed` of those files edited in Drive, the next run;
 * - `github_initial`: the same tree in a repository, an empty Drive folder: the first run;
 * - `github_incremental`: `--changed` of those files edited in one push, the next run.
 *
 * Each case is timed from the workflow's start to its result (one run; nothing is averaged), with
 * the emulators' call logs cleared before it: `files_per_sec` (the case's files / seconds),
 * `github_calls_per_file` and `drive_calls_per_file` (calls the emulators answered / files),
 * `commits` (the run's commits to GitHub). Each is checked after its run: every file of the source
 * side is present with its content on the other side (`present`, `missing`). `activities` has the
 * time from schedule to completion of each activity type, from the workflow's history: where the
 * time goes. Target: github_calls_per_file at most 0.05 on the initial Drive -> GitHub sync.
 * Report: bench/results/sync.json.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { startDriveEmulator, type DriveEmulator } from '../../emulators/drive';
import { startGithubEmulator, type GithubEmulator } from '../../emulators/github/server';
import { MemoryCache } from '../../lib/cache';
import { loadConfig } from '../../lib/config';
import { createStore, type Store } from '../../lib/db/store';
import { createMetrics } from '../../lib/metrics';
import { freePort } from '../../lib/net';
import { taskQueueName, type ApiQueueName, type QueueName } from '../../lib/queues';
import { createActivityDeps } from '../../workers/activities';
import { loadWorkflowBundle } from '../../workers/bundle';
import { createQueueWorker } from '../../workers/process';
import { installRuntime } from '../../workers/runtime';
import type { SyncLinkInput, SyncRunResult } from '../../workflows';
import { benchLogger, cleanupOnExit, machineInfo, progress, round, scratchDatabase, shownPath, startBenchTemporal, urlOrEmbeddedDatabase, writeResult, type BenchDatabase, type ScenarioOptions, printReport, intFlag } from '../lib';

/** Target of the sync design: the initial Drive -> GitHub sync commits in a handful of calls, not one per file. */
const TARGET_GITHUB_CALLS_PER_FILE_INITIAL = 0.05;

/** The benchmark's tree: `files` paths, a tenth at the root, the rest in area-A/topic-T/ (10 areas x 5 topics at most). */
function treePaths(files: number): string[] {
  const atRoot = Math.max(1, Math.ceil(files / 10));
  return Array.from({ length: files }, (_, i) => {
    const name = `note-${String(i).padStart(5, '0')}.md`;
    if (i < atRoot) return name;
    const n = i - atRoot;
    const area = n % 10;
    const topic = Math.floor(n / 10) % 5;
    return `area-${area}/topic-${topic}/${name}`;
  });
}

/** 2-4 KB of markdown for file `i`, `version` making an edit. */
function noteText(i: number, version = 0): string {
  const lines = [`# Note ${i}${version ? ` (edit ${version})` : ''}`, ''];
  const target = 2048 + ((i * 997) % 2048);
  for (let line = 0; lines.join('\n').length < target; line++) {
    lines.push(`- item ${line} of note ${i}: the quick brown fox jumps over the lazy dog, ${(i * 31 + line * 7) % 1000} times.`);
  }
  return `${lines.join('\n')}\n`;
}

/** Which `changed` of `files` are edited: spread evenly over the tree. */
function changedIndexes(files: number, changed: number): number[] {
  const n = Math.min(changed, files);
  return Array.from({ length: n }, (_, k) => Math.floor((k * files) / n));
}

interface ActivityTime {
  count: number;
  /** Summed schedule-to-completion time of its runs, seconds. */
  seconds: number;
  /** Summed schedule-to-start time (waiting in the task queue), seconds. */
  queued_seconds: number;
}

interface CaseResult {
  case: string;
  files: number;
  seconds: number;
  files_per_sec: number;
  github_calls_per_file: number;
  drive_calls_per_file: number;
  commits: number;
  github_calls: number;
  drive_calls: number;
  to_github: { written: number; deleted: number };
  to_drive: { written: number; trashed: number; created: number };
  conflicts: number;
  /** Files of the source side found with the same content on the other side after the run. */
  present: number;
  missing: number;
  github_calls_by_route: Record<string, number>;
  drive_calls_by_route: Record<string, number>;
  activities: Record<string, ActivityTime>;
}

type Timestamp = { seconds?: number | { toNumber(): number } | null; nanos?: number | null } | null | undefined;
const tsMs = (t: Timestamp): number => {
  if (!t) return NaN;
  const s = typeof t.seconds === 'number' ? t.seconds : (t.seconds?.toNumber() ?? 0);
  return s * 1000 + (t.nanos ?? 0) / 1e6;
};

/** Time per activity type, from the workflow's history (all its runs, following continue-as-new). */
async function activityTimes(client: Client, workflowId: string, firstRunId: string): Promise<Record<string, ActivityTime>> {
  const out: Record<string, ActivityTime> = {};
  for (let runId: string | null | undefined = firstRunId; runId; ) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    runId = null;
    const scheduled = new Map<number, { type: string; at: number }>();
    const started = new Map<number, number>();
    for (const event of history.events ?? []) {
      const id = Number(event.eventId);
      const at = tsMs(event.eventTime);
      if (event.activityTaskScheduledEventAttributes) {
        scheduled.set(id, { type: event.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at });
      } else if (event.activityTaskStartedEventAttributes) {
        started.set(Number(event.activityTaskStartedEventAttributes.scheduledEventId), at);
      } else if (event.workflowExecutionContinuedAsNewEventAttributes) {
        runId = event.workflowExecutionContinuedAsNewEventAttributes.newExecutionRunId;
      } else if (event.activityTaskCompletedEventAttributes) {
        const sid = Number(event.activityTaskCompletedEventAttributes.scheduledEventId);
        const s = scheduled.get(sid);
        if (!s) continue;
        const t = (out[s.type] ??= { count: 0, seconds: 0, queued_seconds: 0 });
        t.count++;
        t.seconds += (at - s.at) / 1000;
        t.queued_seconds += ((started.get(sid) ?? s.at) - s.at) / 1000;
      }
    }
  }
  for (const t of Object.values(out)) {
    t.seconds = round(t.seconds, 3);
    t.queued_seconds = round(t.queued_seconds, 3);
  }
  return out;
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

/** The text files under `folderId` in the Drive emulator, by path relative to it. */
function driveTexts(drive: DriveEmulator, folderId: string): Map<string, string> {
  return new Map([...drive.inspect.paths(folderId)].map(([path, id]) => [path, drive.inspect.content(id)?.toString('utf8') ?? '']));
}

export async function runSync(options: ScenarioOptions, flags: Record<string, string>): Promise<void> {
  const FILES = intFlag(flags, 'files', 1000, 1);
  const CHANGED = intFlag(flags, 'changed', 100, 1);
  const LATENCY_MS = intFlag(flags, 'latency-ms', 30, 0);
  const benchStarted = Date.now();
  const loadAtStart = os.loadavg()[0]!;
  const logger = benchLogger();

  let server: Awaited<ReturnType<typeof startBenchTemporal>> | undefined;
  let db: BenchDatabase | undefined;
  let drive: DriveEmulator | undefined;
  let github: GithubEmulator | undefined;
  let store: Store | undefined;
  let native: NativeConnection | undefined;
  let connection: Connection | undefined;
  let workers: Array<{ worker: Worker; running: Promise<void> }> = [];
  const cleanup = cleanupOnExit(async () => {
    for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.allSettled(workers.map((w) => w.running));
    await connection?.close();
    await native?.close();
    await store?.close();
    await drive?.close();
    await github?.close();
    await db?.close();
    await server?.stop();
  });

  try {
    progress(`sync: ${FILES} files, ${CHANGED} changed, ${LATENCY_MS} ms emulator latency`);
    installRuntime({ logger, sdkMetricsAddress: `127.0.0.1:${await freePort()}` });
    const setup = await Promise.allSettled([
      startBenchTemporal().then((s) => (server = s)),
      (process.env.DATABASE_URL ? scratchDatabase() : urlOrEmbeddedDatabase()).then((d) => (db = d)),
      startDriveEmulator({ latencyMs: LATENCY_MS }).then((d) => (drive = d)),
      startGithubEmulator({ latencyMs: LATENCY_MS }).then((g) => (github = g)),
    ]);
    const setupFailed = setup.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (setupFailed) throw setupFailed.reason;
    if (!server || !db || !drive || !github) throw new Error('set-up did not finish');
    const dv = drive;
    const gh = github;
    progress(`temporal ${server.address}, database ${db.kind}, drive emulator ${dv.url}, github emulator ${gh.url}`);

    const prefix = `bench-${randomBytes(3).toString('hex')}-`;
    const keyText = `k1:${randomBytes(32).toString('base64')}`;
    const config = loadConfig({
      TEMPORAL_ADDRESS: server.address,
      DATABASE_URL: db.url,
      DURASYNC_TASK_QUEUE_PREFIX: prefix,
      DURASYNC_SHUTDOWN_GRACE: '2s',
      DURASYNC_TOKEN_KEY: keyText,
      GOOGLE_CLIENT_ID: 'durasync-bench',
      GOOGLE_CLIENT_SECRET: 'durasync-bench-secret',
      GOOGLE_TOKEN_URL: dv.tokenUrl,
      GOOGLE_API_ROOT_URL: dv.url,
      GITHUB_API_URL: gh.url,
    });
    store = createStore({ databaseUrl: db.url });
    const deps = createActivityDeps({ config, store, cache: new MemoryCache(), logger });
    if (!deps.tokens) throw new Error('token service not configured');

    // The user's tokens, sealed as the OAuth callbacks would store them.
    const userId = `bench-user-${randomBytes(3).toString('hex')}`;
    const { accessToken } = dv.seed.token({ refreshToken: `refresh-${userId}` });
    await deps.tokens.save('google', userId, { accessToken, refreshToken: `refresh-${userId}`, expiresAt: new Date(Date.now() + 3_600_000) });
    const githubToken = `ghp_${randomBytes(12).toString('hex')}`;
    gh.seed.token(githubToken);
    await deps.tokens.save('github', userId, { accessToken: githubToken, expiresAt: null });

    native = await NativeConnection.connect({ address: server.address });
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const bundle = await loadWorkflowBundle(undefined, logger);
    const metrics = createMetrics();
    const queues: Array<QueueName | ApiQueueName> = ['sync', 'drive-api', 'github-api'];
    const built = await Promise.all(queues.map((queue) => createQueueWorker({ connection: native!, config, queue, bundle, metrics, deps })));
    workers = built.map((worker) => ({ worker, running: worker.run() }));

    const paths = treePaths(FILES);
    const edits = changedIndexes(FILES, CHANGED);

    /** Runs syncLink for `linkId` to its result, timed, with the emulators' call logs cleared first. */
    async function measure(name: string, linkId: string, files: number, check: () => { present: number; missing: number }): Promise<CaseResult> {
      dv.inspect.clearCalls();
      gh.inspect.clearCalls();
      const workflowId = `sync:${linkId}`;
      const t0 = performance.now();
      const handle = await client.workflow.start<(input: SyncLinkInput) => Promise<SyncRunResult>>('syncLink', {
        taskQueue: taskQueueName('sync', prefix),
        workflowId,
        args: [{ linkId }],
        workflowExecutionTimeout: '30m',
      });
      const result = await handle.result();
      const seconds = (performance.now() - t0) / 1000;
      const githubCalls = gh.inspect.calls();
      const driveCalls = dv.inspect.calls();
      const { present, missing } = check();
      const out: CaseResult = {
        case: name,
        files,
        seconds: round(seconds, 2),
        files_per_sec: round(files / seconds, 1),
        github_calls_per_file: round(githubCalls.length / files, 3),
        drive_calls_per_file: round(driveCalls.length / files, 3),
        commits: result.toGithub.commits.length,
        github_calls: githubCalls.length,
        drive_calls: driveCalls.length,
        to_github: { written: result.toGithub.written, deleted: result.toGithub.deleted },
        to_drive: result.toDrive,
        conflicts: result.conflicts.length,
        present,
        missing,
        github_calls_by_route: countBy(githubCalls, (c) => `${c.method} ${c.route}`),
        drive_calls_by_route: countBy(driveCalls, (c) => `${c.method} ${c.path.replace(/\/files\/[^/]+/, '/files/{id}')}`),
        activities: await activityTimes(client, workflowId, handle.firstExecutionRunId),
      };
      if (result.status !== 'synced') throw new Error(`${name}: run ended ${result.status}${result.reason ? `: ${result.reason}` : ''}`);
      progress(
        `${name}: ${files} files in ${out.seconds} s (${out.files_per_sec} files/s), ${out.github_calls} GitHub calls (${out.github_calls_per_file}/file), ${out.drive_calls} Drive calls (${out.drive_calls_per_file}/file), ${out.commits} commit(s), ${missing} missing`,
      );
      return out;
    }

    const cases: CaseResult[] = [];

    // Drive -> GitHub: the tree in a Drive folder, an empty repository.
    {
      const repo = `bench/drive-to-github-${randomBytes(2).toString('hex')}`;
      gh.seed.repo(repo);
      const root = dv.seed.folder('Notes (bench)');
      const folders = new Map<string, string>([['', root.id]]);
      const folderOf = (dir: string): string => {
        const known = folders.get(dir);
        if (known) return known;
        const cut = dir.lastIndexOf('/');
        const id = dv.seed.folder(dir.slice(cut + 1), folderOf(cut < 0 ? '' : dir.slice(0, cut))).id;
        folders.set(dir, id);
        return id;
      };
      const fileIds = paths.map((p, i) => {
        const cut = p.lastIndexOf('/');
        return dv.seed.file({ name: p.slice(cut + 1), parentId: folderOf(cut < 0 ? '' : p.slice(0, cut)), content: noteText(i) }).id;
      });
      const { link } = await store.createSyncLink({ driveFolderId: root.id, githubRepo: repo, userId, direction: 'both' });
      const expected = new Map(paths.map((p, i) => [p, noteText(i)]));
      const check = () => {
        const tree = gh.inspect.tree(repo);
        let present = 0;
        for (const [p, text] of expected) if (tree[p]?.toString('utf8') === text) present++;
        return { present, missing: expected.size - present };
      };
      progress(`seeded ${FILES} files in ${folders.size} Drive folders`);
      cases.push(await measure('drive_initial', link.id, FILES, check));
      for (const i of edits) {
        dv.seed.update(fileIds[i]!, { content: noteText(i, 1) });
        expected.set(paths[i]!, noteText(i, 1));
      }
      cases.push(await measure('drive_incremental', link.id, edits.length, check));
    }

    // GitHub -> Drive: the tree in a repository, an empty Drive folder.
    {
      const repo = `bench/github-to-drive-${randomBytes(2).toString('hex')}`;
      gh.seed.repo(repo, { files: Object.fromEntries(paths.map((p, i) => [p, noteText(i)])) });
      const root = dv.seed.folder('Repo copy (bench)');
      const { link } = await store.createSyncLink({ driveFolderId: root.id, githubRepo: repo, userId, direction: 'both' });
      const expected = new Map(paths.map((p, i) => [p, noteText(i)]));
      const check = () => {
        const texts = driveTexts(dv, root.id);
        let present = 0;
        for (const [p, text] of expected) if (texts.get(p) === text) present++;
        return { present, missing: expected.size - present };
      };
      cases.push(await measure('github_initial', link.id, FILES, check));
      const changes = Object.fromEntries(edits.map((i) => [paths[i]!, noteText(i, 1)]));
      gh.seed.commit(repo, { files: changes, message: `edit ${edits.length} notes` });
      for (const [p, text] of Object.entries(changes)) expected.set(p, text);
      cases.push(await measure('github_incremental', link.id, edits.length, check));
    }

    const byName = Object.fromEntries(cases.map((c) => [c.case, c])) as Record<string, CaseResult>;
    const initial = byName.drive_initial!;
    const report = {
      scenario: 'sync',
      files: FILES,
      changed: edits.length,
      latency_ms: LATENCY_MS,
      direction: 'both',
      cases: byName,
      targets: {
        github_calls_per_file_initial_at_most_0_05: initial.github_calls_per_file <= TARGET_GITHUB_CALLS_PER_FILE_INITIAL,
      },
      machine: { ...machineInfo(), load_average_1m: { start: round(loadAtStart, 2), end: round(os.loadavg()[0]!, 2) } },
      database: db.kind,
      date: new Date().toISOString(),
      duration_s: round((Date.now() - benchStarted) / 1000),
      notes: [
        'Every link syncs both ways (direction both, the product default): a run lists both sides even when only one has changes.',
        `Emulators answer every call after ${LATENCY_MS} ms; workers (sync, drive-api, github-api; product defaults: 8 transfers at a time per activity, github-api and drive-api paced at 20 activities/s) run in this process, with the Temporal dev server and the database on the same ${os.cpus().length} CPU(s).`,
        'seconds: from the workflow start to its result, one run per case; files: the files the case syncs (all of them initially, the edited ones incrementally).',
        '*_calls: requests the emulators answered during the case (token endpoint excluded).',
        'present / missing: source files found with identical content on the other side after the run (checked through the emulators).',
        'activities: per activity type, runs and summed schedule-to-completion (and schedule-to-start) seconds, from the workflow history.',
        `Target: github_calls_per_file at most ${TARGET_GITHUB_CALLS_PER_FILE_INITIAL} on drive_initial.`,
      ],
    };
    const out = shownPath(await writeResult(options.resultsDir, 'sync.json', report));
    const table = [
      `sync: ${FILES} files (${edits.length} changed), ${LATENCY_MS} ms latency, direction both, ${db.kind}`,
      `${'case'.padEnd(20)}${'files'.padStart(7)}${'seconds'.padStart(9)}${'files/s'.padStart(9)}${'gh/file'.padStart(9)}${'drive/file'.padStart(11)}${'commits'.padStart(9)}${'missing'.padStart(9)}`,
      ...cases.map(
        (c) =>
          `${c.case.padEnd(20)}${String(c.files).padStart(7)}${c.seconds.toFixed(2).padStart(9)}${c.files_per_sec.toFixed(1).padStart(9)}${c.github_calls_per_file.toFixed(3).padStart(9)}${c.drive_calls_per_file.toFixed(3).padStart(11)}${String(c.commits).padStart(9)}${String(c.missing).padStart(9)}`,
      ),
      `target: github_calls_per_file <= ${TARGET_GITHUB_CALLS_PER_FILE_INITIAL} on drive_initial: ${initial.github_calls_per_file} -> ${report.targets.github_calls_per_file_initial_at_most_0_05 ? 'met' : 'MISSED'}`,
      `wrote ${out} (${report.duration_s} s)`,
    ];
    printReport(options, table, report);
  } finally {
    await cleanup();
  }
}
