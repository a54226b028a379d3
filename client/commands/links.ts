import { Option, type Command } from 'commander';
import { createStore, type Store } from '../../lib/db/store';
import { CONFLICT_POLICIES, SYNC_DIRECTIONS, type ConflictPolicy, type SyncDirection, type SyncLink } from '../../lib/db/types';
import { command, EXIT, ExitError, print, requireId, UsageError, type CommandContext } from './context';

/** `durasync links create|list|show|pause|resume`: the sync links in the store (Postgres or Supabase). */
async function withStore<T>(ctx: CommandContext, work: (store: Store) => Promise<T>): Promise<T> {
  const { database } = ctx.config;
  if (!database.url && !database.supabase) throw new UsageError('links need the database: set DATABASE_URL (or SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY)');
  const store = createStore({ databaseUrl: database.url, supabase: database.supabase, logger: ctx.logger, poolMax: 2 });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}


function linkLines(link: SyncLink): string[] {
  const arrow = link.direction === 'both' ? '<->' : link.direction === 'drive_to_github' ? '->' : '<-';
  return [
    `${link.id}  drive:${link.driveFolderId} ${arrow} github:${link.githubRepo}@${link.githubBranch}/${link.githubPath}`,
    `  user ${link.userId}, conflicts ${link.conflictPolicy}, ${link.status}${link.statusReason ? ` (${link.statusReason})` : ''}, last synced ${link.lastSyncedAt?.toISOString() ?? 'never'}`,
  ];
}

interface CreateFlags {
  driveFolder: string;
  repo: string;
  user: string;
  branch: string;
  path: string;
  direction: SyncDirection;
  conflicts: ConflictPolicy;
}

export function registerLinkCommands(program: Command): void {
  const links = program.command('links').description('sync links: a Google Drive folder tied to a path of a GitHub repository branch');

  links
    .command('create')
    .description('create a sync link (or show the existing one for the same folder, repository, branch and path)')
    .requiredOption('--drive-folder <id>', 'Google Drive folder id')
    .requiredOption('--repo <owner/name>', 'GitHub repository')
    .requiredOption('--user <id>', 'the durasync user whose Google and GitHub tokens the link uses')
    .option('--branch <name>', 'branch', 'main')
    .option('--path <folder>', "folder inside the repository ('' for the root)", '')
    .addOption(new Option('--direction <direction>', 'which way it syncs').choices(SYNC_DIRECTIONS).default('both'))
    .addOption(new Option('--conflicts <policy>', 'two-way conflicts: keep both versions, or let one side win').choices(CONFLICT_POLICIES).default('keep-both'))
    .action(
      command('links create', async (ctx, opts: CreateFlags) => {
        if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(opts.repo)) throw new UsageError(`--repo: expected owner/name, got "${opts.repo}"`);
        const path = opts.path.replace(/^\/+|\/+$/g, '');
        const { link, created } = await withStore(ctx, (store) =>
          store.createSyncLink({
            driveFolderId: opts.driveFolder,
            githubRepo: opts.repo,
            userId: opts.user,
            githubBranch: opts.branch,
            githubPath: path,
            direction: opts.direction,
            conflictPolicy: opts.conflicts,
          }),
        );
        print(ctx, { link, created }, () => [created ? 'created link' : 'a link for this folder, repository, branch and path exists already', ...linkLines(link)]);
      }),
    );

  links
    .command('list')
    .description('list sync links')
    .action(
      command('links list', async (ctx) => {
        const all = await withStore(ctx, (store) => store.listSyncLinks());
        print(ctx, { links: all }, () => (all.length ? all.flatMap(linkLines) : ['no links']));
      }),
    );

  links
    .command('show')
    .description('show one sync link')
    .argument('<linkId>')
    .action(
      command('links show', async (ctx, linkId: string) => {
        requireId('linkId', 'link', linkId);
        const link = await withStore(ctx, (store) => store.getSyncLink(linkId));
        if (!link) throw new ExitError(`no link ${linkId}`, EXIT.NOT_FOUND);
        print(ctx, { link }, () => linkLines(link));
      }),
    );

  // pause: runs of the link end `skipped` until it is resumed. resume: back to `active`, also after
  // the user authorised durasync again (a revoked token had set `needs_reauth`).
  for (const [name, status, description] of [
    ['pause', 'paused', 'pause a link: its runs end skipped until it is resumed'],
    ['resume', 'active', 'make a paused link, or one that needed re-authorisation, active again'],
  ] as const) {
    links
      .command(name)
      .description(description)
      .argument('<linkId>')
      .option('--reason <text>', 'why (shown by links show)')
      .action(
        command(`links ${name}`, async (ctx, linkId: string, opts: { reason?: string }) => {
          requireId('linkId', 'link', linkId);
          const link = await withStore(ctx, async (store) => ((await store.getSyncLink(linkId)) ? store.setSyncLinkStatus(linkId, status, opts.reason ?? null) : null));
          if (!link) throw new ExitError(`no link ${linkId}`, EXIT.NOT_FOUND);
          print(ctx, { link }, () => linkLines(link));
        }),
      );
  }
}
