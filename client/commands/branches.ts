import { createReadStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { InvalidArgumentError, type Command } from 'commander';
import { ChangeInputError } from '../../lib/branches/changes';
import { ConflictError, InvalidArgumentError as StoreInvalidArgumentError, NotFoundError } from '../../lib/db/store';
import { ConfigError } from '../../lib/errors';
import type { BranchDetails } from '../branches';
import { command, EXIT, ExitError, print, requireId, UsageError, withClient, type CommandContext } from './context';

/**
 * `durasync branches create|list|show|materialize|flush` and `durasync changes push`: branches
 * and their changes through the client SDK's `branches` namespace (client/branches.ts). They need
 * the database (DATABASE_URL or SUPABASE_URL); flush and push also talk to Temporal.
 *
 * Exit codes: 3 for an unknown branch (or a missing file); 1 for a malformed change in a pushed
 * file (the line is named; the chunk holding it is not taken, earlier chunks are).
 */

/** Lines of a pushed file per batch (one durable append each). */
export const PUSH_CHUNK_LINES = 5000;
/** Files at least this large get a progress bar on stderr. */
const PROGRESS_BYTES = 1024 * 1024;


const wholeNumber = (flag: string) => (value: string): number => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${flag}: expected a whole number, got "${value}"`);
  return Number(value);
};

function requireDatabase(ctx: CommandContext): void {
  if (!ctx.config.database.url && !ctx.config.database.supabase) throw new ConfigError('DATABASE_URL', 'required by the branches commands (or SUPABASE_URL and a service key)');
}

function requireBranchId(branchId: string): void {
  requireId('branchId', 'branch', branchId);
}

const mb = (bytes: number) => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${bytes} B`);

/** `durasync branches show` as readable lines. */
export function showLines(d: BranchDetails): string[] {
  const b = d.branch;
  const lines = [
    `branch ${b.name} (${b.id})${b.archivedAt ? ` archived ${b.archivedAt.toISOString()}` : ''}`,
    `  parent   ${b.parentId ? `${b.parentId} at seq ${b.parentSeq ?? 0}` : '-'}`,
    `  head     seq ${b.headSeq}`,
    `  deltas   ${d.deltas.length}, ${d.changes} changes, ${mb(d.storedBytes)} stored${d.rawBytes ? ` (${mb(d.rawBytes)} raw, ratio ${d.ratio?.toFixed(1) ?? '-'}x)` : ''}`,
  ];
  for (const delta of d.deltas.slice(-10)) {
    lines.push(`    #${delta.seq}  ${delta.changeCount} changes  ${mb(delta.byteSize)}${delta.rawBytes ? ` / ${mb(delta.rawBytes)} raw` : ''}  ${delta.codec ?? ''}  ${delta.createdAt.toISOString()}`);
  }
  if (d.deltas.length > 10) lines.splice(4, 0, `    (last 10 of ${d.deltas.length})`);
  return lines;
}

async function notFoundAsExit<T>(branchId: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof NotFoundError) throw new ExitError(`no branch ${branchId}`, EXIT.NOT_FOUND);
    throw err;
  }
}

export function registerBranchCommands(program: Command): void {
  const branches = program.command('branches').description('branches of a change stream: create, list, show, materialize, flush (needs DATABASE_URL)');

  branches
    .command('create <name>')
    .description('create a branch (idempotent on the name), optionally from a parent at a seq')
    .option('--parent <branchId>', 'the parent branch')
    .option('--at <seq>', "the parent's seq to start from (default: its head)", wholeNumber('--at'))
    .action(
      command('branches create', async (ctx, name: string, opts: { parent?: string; at?: number }) => {
        requireDatabase(ctx);
        if (opts.at !== undefined && !opts.parent) throw new UsageError('--at: needs --parent');
        if (opts.parent) requireBranchId(opts.parent);
        await withClient(ctx, async (client) => {
          try {
            const { branch, created } = await client.branches.create({ name, ...(opts.parent ? { parentId: opts.parent } : {}), ...(opts.at !== undefined ? { parentSeq: opts.at } : {}) });
            print(ctx, { branch, created }, () => [
              `${created ? 'created' : 'exists:'} branch ${branch.name} ${branch.id}${branch.parentId ? ` from ${branch.parentId} at seq ${branch.parentSeq ?? 0}` : ''}`,
            ]);
          } catch (err) {
            if (err instanceof NotFoundError) throw new ExitError(`no branch ${opts.parent ?? ''}`, EXIT.NOT_FOUND);
            if (err instanceof StoreInvalidArgumentError || err instanceof ConflictError) throw new UsageError(err.message);
            throw err;
          }
        });
      }),
    );

  branches
    .command('list')
    .description('every branch: id, name, head seq, parent')
    .action(
      command('branches list', async (ctx) => {
        requireDatabase(ctx);
        await withClient(ctx, async (client) => {
          const all = await client.branches.list();
          print(ctx, { branches: all }, () =>
            all.length === 0
              ? ['no branches']
              : all.map((b) => `${b.id}  ${b.name}  head ${b.headSeq}${b.parentId ? `  from ${b.parentId}@${b.parentSeq ?? 0}` : ''}${b.archivedAt ? '  (archived)' : ''}`),
          );
        });
      }),
    );

  branches
    .command('show <branchId>')
    .description('a branch: head, deltas, sizes and compression ratio')
    .action(
      command('branches show', async (ctx, branchId: string) => {
        requireDatabase(ctx);
        requireBranchId(branchId);
        await withClient(ctx, async (client) => {
          const details = await client.branches.show(branchId);
          if (!details) throw new ExitError(`no branch ${branchId}`, EXIT.NOT_FOUND);
          print(ctx, details, () => showLines(details));
        });
      }),
    );

  branches
    .command('materialize <branchId>')
    .description("the branch's documents at a seq, as NDJSON (one document a line); the state checksum goes to stderr")
    .option('--seq <n>', 'the seq (default: the head)', wholeNumber('--seq'))
    .option('-o, --output <file>', 'write the NDJSON to a file instead of stdout')
    .action(
      command('branches materialize', async (ctx, branchId: string, opts: { seq?: number; output?: string }) => {
        requireDatabase(ctx);
        requireBranchId(branchId);
        await withClient(ctx, async (client) => {
          const state = await notFoundAsExit(branchId, () => client.branches.materialize(branchId, opts.seq));
          const lines = [...state.documents].map(([key, document]) => JSON.stringify({ key, document }));
          const text = lines.length ? `${lines.join('\n')}\n` : '';
          if (opts.output) await writeFile(opts.output, text);
          else process.stdout.write(text);
          process.stderr.write(`seq ${state.seq}  documents ${state.documents.size}  checksum ${state.checksum}\n`);
        });
      }),
    );

  branches
    .command('flush <branchId>')
    .description("process every change pending now (the workflow's flush update) and print the durable head seq")
    .action(
      command('branches flush', async (ctx, branchId: string) => {
        requireDatabase(ctx);
        requireBranchId(branchId);
        await withClient(ctx, async (client) => {
          if (!(await client.branches.show(branchId))) throw new ExitError(`no branch ${branchId}`, EXIT.NOT_FOUND);
          const headSeq = await client.branches.flush(branchId);
          print(ctx, { branchId, headSeq }, () => [`branch ${branchId} flushed: head seq ${headSeq}`]);
        });
      }),
    );

  branches
    .command('archive <branchId>')
    .description('flush what is pending, then archive the branch: it takes no more changes and its workflow ends')
    .action(
      command('branches archive', async (ctx, branchId: string) => {
        requireDatabase(ctx);
        requireBranchId(branchId);
        await withClient(ctx, async (client) => {
          if (!(await client.branches.show(branchId))) throw new ExitError(`no branch ${branchId}`, EXIT.NOT_FOUND);
          const branch = await client.branches.archive(branchId);
          print(ctx, { branch }, () => [`branch ${branchId} archived at head seq ${branch.headSeq}`]);
        });
      }),
    );

  branches
    .command('cleanup <branchId>')
    .description("delete an archived branch's objects and rows (the cleanupBranch workflow); refused for a branch that is not archived")
    .action(
      command('branches cleanup', async (ctx, branchId: string) => {
        requireDatabase(ctx);
        requireBranchId(branchId);
        await withClient(ctx, async (client) => {
          const shown = await client.branches.show(branchId);
          if (!shown) throw new ExitError(`no branch ${branchId}`, EXIT.NOT_FOUND);
          if (!shown.branch.archivedAt) throw new ExitError(`branch ${branchId} is not archived: archive it first (durasync branches archive)`, EXIT.FAILURE);
          const result = await client.branches.cleanup(branchId);
          print(ctx, result, () => [`branch ${branchId} deleted: ${result.objectsDeleted} objects`]);
        });
      }),
    );

  const changes = program.command('changes').description('changes of branches: push a file of changes');
  changes
    .command('push <file>')
    .description('append the changes of an NDJSON file (one change a line) to a branch')
    .requiredOption('--branch <branchId>', 'the branch')
    .addHelpText(
      'after',
      `
The file is read in chunks of ${PUSH_CHUNK_LINES} lines; each chunk is validated whole and appended as one
durable batch. A malformed line stops the push naming its line: nothing of the chunk holding it is
taken, the chunks before it are. Large files show a progress bar on stderr.`,
    )
    .action(
      command('changes push', async (ctx, file: string, opts: { branch: string }) => {
        requireDatabase(ctx);
        requireBranchId(opts.branch);
        let size: number;
        try {
          size = (await stat(file)).size;
        } catch (err) {
          throw new ExitError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, EXIT.NOT_FOUND);
        }
        await withClient(ctx, async (client) => {
          const branch = await client.branches.show(opts.branch);
          if (!branch) throw new ExitError(`no branch ${opts.branch}`, EXIT.NOT_FOUND);
          if (branch.branch.archivedAt) throw new ExitError(`branch ${opts.branch} is archived: it takes no more changes`, EXIT.FAILURE);
          const progress = size >= PROGRESS_BYTES ? progressBar(size) : undefined;
          const result = await pushFile(file, (chunk) => client.branches.pushChanges(opts.branch, chunk), progress);
          progress?.done();
          print(ctx, { branchId: opts.branch, ...result }, () => [`pushed ${result.accepted} changes in ${result.batches} batches to branch ${opts.branch}`]);
        });
      }),
    );
}

/**
 * Streams `file` in chunks of PUSH_CHUNK_LINES lines to `accept`. A ChangeInputError is re-thrown
 * as an ExitError naming the file's line (the chunk's line + its offset).
 */
export async function pushFile(
  file: string,
  accept: (ndjson: string) => Promise<{ accepted: number }>,
  progress?: { update(bytes: number, changes: number): void },
): Promise<{ accepted: number; batches: number; lines: number }> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let chunk: string[] = [];
  let firstLine = 1;
  let lineNo = 0;
  let bytes = 0;
  let accepted = 0;
  let batches = 0;
  const send = async () => {
    if (chunk.length === 0) return;
    try {
      const result = await accept(chunk.join('\n'));
      accepted += result.accepted;
      if (result.accepted) batches++;
    } catch (err) {
      if (err instanceof ChangeInputError) {
        const line = firstLine + err.line - 1;
        throw new ExitError(
          `${file}: line ${line}: ${err.problem}; nothing of lines ${firstLine}-${firstLine + chunk.length - 1} was taken (${accepted} changes of earlier lines were)`,
          EXIT.FAILURE,
        );
      }
      throw err;
    }
    progress?.update(bytes, accepted);
    firstLine += chunk.length;
    chunk = [];
  };
  for await (const line of lines) {
    lineNo++;
    bytes += Buffer.byteLength(line) + 1;
    chunk.push(line);
    if (chunk.length >= PUSH_CHUNK_LINES) await send();
  }
  await send();
  return { accepted, batches, lines: lineNo };
}

function progressBar(total: number): { update(bytes: number, changes: number): void; done(): void } {
  const width = 30;
  let last = '';
  return {
    update(bytes, changes) {
      const fraction = Math.min(1, bytes / total);
      const filled = Math.round(fraction * width);
      const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%  ${changes} changes`;
      if (line === last) return;
      last = line;
      process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
    },
    done() {
      if (process.stderr.isTTY && last) process.stderr.write('\n');
    },
  };
}
