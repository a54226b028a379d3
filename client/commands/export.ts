import type { Command } from 'commander';
import { checkExportInput, grouped, type ExportEventsInput, type ExportEventsResult, type ExportTarget } from '../../workflows/ingestion/export-events';
import { command, print, UsageError, withClient } from './context';
import { waitOrExit } from './wait';

/**
 * `durasync export events --from <ISO> --to <ISO> --format ndjson|csv (--object <key> | --url <url>)
 * [--chunk-size N] [--id ID] [--wait]`: starts exportEvents on the `ingestion` queue (workflow
 * `export:<id>`). Bad flags exit 2 with one line naming the flag; with --wait, a failed export exits 4.
 */

interface ExportFlags {
  from?: string;
  to?: string;
  format?: string;
  object?: string;
  url?: string;
  chunkSize?: string;
  id?: string;
  wait?: boolean;
}

/** The workflow input from the flags, or a UsageError naming the flag. */
export function exportInputFromFlags(opts: ExportFlags): ExportEventsInput {
  if (opts.object !== undefined && opts.url !== undefined) throw new UsageError('give --object <key> or --url <url>, not both');
  if (opts.object === undefined && opts.url === undefined) throw new UsageError('--object <key> or --url <url> is required');
  const target: ExportTarget = opts.object !== undefined ? { kind: 'object', key: opts.object } : { kind: 'webhook', url: opts.url! };
  let chunkSize: number | undefined;
  if (opts.chunkSize !== undefined) {
    chunkSize = /^\d+$/.test(opts.chunkSize) ? Number(opts.chunkSize) : NaN;
    if (Number.isNaN(chunkSize)) throw new UsageError(`--chunk-size: expected a whole number, got "${opts.chunkSize}"`);
  }
  const input = { from: opts.from, to: opts.to, format: opts.format, target, ...(chunkSize !== undefined ? { chunkSize } : {}) } as ExportEventsInput;
  const invalid = checkExportInput(input);
  if (invalid) {
    // field names of the input -> the flags that set them
    throw new UsageError(
      invalid
        .replace(/^(from|to|format|chunkSize): /, (_, f: string) => `--${f === 'chunkSize' ? 'chunk-size' : f}: `)
        .replace(/^target\.key: /, '--object: ')
        .replace(/^target\.url: /, '--url: ')
        .replace(/^from (\S+) is not before to (\S+)$/, '--from $1 is not before --to $2'),
    );
  }
  return input;
}

const summary = (r: ExportEventsResult) =>
  `exported ${grouped(r.rows)} event${r.rows === 1 ? '' : 's'} in ${r.parts} part${r.parts === 1 ? '' : 's'} to ${r.target.kind === 'object' ? `object ${r.target.key}` : 'the webhook'} (${grouped(r.bytes)} bytes, ${r.format})`;

export function registerExportCommands(program: Command): void {
  const exp = program.command('export').description('export stored data (exportEvents on the ingestion queue)');

  exp
    .command('events')
    .description('export the events with from <= occurred_at < to as ndjson or CSV to the object store or a webhook')
    .option('--from <time>', 'ISO time, included, e.g. 2026-01-01T00:00:00Z')
    .option('--to <time>', 'ISO time, excluded')
    .option('--format <format>', 'ndjson or csv')
    .option('--object <key>', 'write the object <key> in the configured object store')
    .option('--url <url>', 'POST each part to this URL (no secret in it: it is kept in workflow history)')
    .option('--chunk-size <n>', 'events per part (default 1000, at most 10000)')
    .option('--id <id>', 'the workflow id is export:<id> (default: a random UUID)')
    .option('--wait', 'wait for the export, show its progress and print a one-line summary')
    .action(
      command('export events', async (ctx, opts: ExportFlags) => {
        const input = exportInputFromFlags(opts);
        if (opts.id !== undefined && !/^[A-Za-z0-9._:-]{1,200}$/.test(opts.id)) throw new UsageError(`--id: expected 1 to 200 letters, digits or . _ : -, got "${opts.id}"`);
        await withClient(ctx, async (client) => {
          const handle = await client.export.events({ ...input, ...(opts.id !== undefined ? { id: opts.id } : {}) });
          if (!opts.wait) {
            print(ctx, { workflowId: handle.workflowId }, () => [`started ${handle.workflowId}`]);
            return;
          }
          const result = await waitOrExit<ExportEventsResult>(ctx, client, handle.workflowId);
          print(ctx, result, () => [summary(result)]);
        });
      }),
    );
}
