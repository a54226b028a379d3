import os from 'node:os';
import type { Command } from 'commander';
import { createStore, type StoredSetting } from '../../lib/db/store';
import { InvalidSettingError, SETTINGS, type ResolvedSetting } from '../../lib/settings';
import { settingsApi, type SettingsApi } from '../settings';
import { command, print, UsageError, type CommandContext } from './context';
import { printList } from './print-list';

/**
 * `durasync settings keys|list|get|set|unset`: run-time settings (lib/settings.ts) in the
 * database, seen by every worker and ingress within DURASYNC_SETTINGS_TTL. An unknown key, a scope
 * the key cannot be set at, or a bad value exits 2 with one line.
 */

const SCOPE_HELP = 'global (default), queue:<queue> or source:<id>';

async function withSettings<T>(ctx: CommandContext, work: (settings: SettingsApi) => Promise<T>): Promise<T> {
  const { database } = ctx.config;
  if (!database.url && !database.supabase) throw new UsageError('settings need the database: set DATABASE_URL (or SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY)');
  const store = createStore({ databaseUrl: database.url, supabase: database.supabase, logger: ctx.logger, poolMax: 1 });
  try {
    return await work(settingsApi(() => store));
  } catch (err) {
    if (err instanceof InvalidSettingError) throw new UsageError(err.message);
    throw err;
  } finally {
    await store.close();
  }
}

function operator(): string | undefined {
  try {
    return os.userInfo().username;
  } catch {
    return undefined;
  }
}

const show = (value: unknown) => (value === null ? 'unset' : JSON.stringify(value));
const storedLine = (s: StoredSetting) => `${s.key.padEnd(26)}  ${s.scope.padEnd(22)}  ${show(s.value).padEnd(8)}  ${s.updatedAt.toISOString()}${s.updatedBy ? ` by ${s.updatedBy}` : ''}`;
const resolvedLine = (r: ResolvedSetting) => `${r.key} = ${show(r.value)} (${r.from === 'scope' ? `set at ${r.scope}` : r.from === 'global' ? 'set at global' : 'default'})`;

export function registerSettingsCommands(program: Command): void {
  const settings = program.command('settings').description('run-time settings (poll intervals, batch sizes, rate limits, flags), seen by every process within DURASYNC_SETTINGS_TTL');

  settings
    .command('keys')
    .description('every known setting: scopes, values, default, what reads it')
    .action(
      command('settings keys', async (ctx) => {
        print(ctx, { keys: SETTINGS }, () =>
          SETTINGS.map((s) => `${s.key.padEnd(26)}  ${s.scopes.join(',').padEnd(14)}  ${s.type}${'min' in s ? ` ${s.min}-${s.max}` : ''}  default ${show(s.default)}  (${s.readBy}) ${s.about}`),
        );
      }),
    );

  settings
    .command('list')
    .description('the stored settings')
    .option('--scope <scope>', `only this scope: ${SCOPE_HELP}`)
    .action(
      command('settings list', async (ctx, opts: { scope?: string }) => {
        const list = await withSettings(ctx, (api) => api.list({ scope: opts.scope }));
        printList(ctx, 'settings', list, storedLine, 'no settings stored: every key has its default (durasync settings keys)');
      }),
    );

  settings
    .command('get')
    .description('the value a reader at the scope gets, and where it comes from (the scope, global or the default)')
    .argument('<key>')
    .option('--scope <scope>', SCOPE_HELP)
    .action(
      command('settings get', async (ctx, key: string, opts: { scope?: string }) => {
        const resolved = await withSettings(ctx, (api) => api.get(key, { scope: opts.scope }));
        print(ctx, resolved, () => [resolvedLine(resolved)]);
      }),
    );

  settings
    .command('set')
    .description('set a key at a scope (values: numbers, true/false, durations such as 2s)')
    .argument('<key>')
    .argument('<value>')
    .option('--scope <scope>', SCOPE_HELP)
    .action(
      command('settings set', async (ctx, key: string, value: string, opts: { scope?: string }) => {
        const stored = await withSettings(ctx, (api) => api.set(key, value, { scope: opts.scope, updatedBy: operator() }));
        print(ctx, { setting: stored }, () => [`${stored.key} = ${show(stored.value)} at ${stored.scope}`]);
      }),
    );

  settings
    .command('unset')
    .description('remove a key from a scope (readers fall back to global, then the default)')
    .argument('<key>')
    .option('--scope <scope>', SCOPE_HELP)
    .action(
      command('settings unset', async (ctx, key: string, opts: { scope?: string }) => {
        const removed = await withSettings(ctx, (api) => api.unset(key, { scope: opts.scope }));
        const scope = opts.scope ?? 'global';
        print(ctx, { removed }, () => [removed ? `unset ${key} at ${scope}` : `${key} was not set at ${scope}`]);
      }),
    );
}
