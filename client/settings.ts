import type { Store, StoredSetting } from '../lib/db/store';
import { checkScope, checkValue, parseSettingValue, SETTINGS, type ResolvedSetting, type SettingSpec } from '../lib/settings';

/**
 * The `settings` namespace of the client SDK: run-time settings (lib/settings.ts) in the database's
 * `settings` table, which workers and the ingress read within DURASYNC_SETTINGS_TTL. Keys, scopes
 * and values are checked against the registry: InvalidSettingError (one line) for an unknown key, a
 * scope the key cannot be set at, or a value out of range. Needs a database.
 */
export interface SettingsApi {
  /** The registry: every key, its scopes, type, range, default and what reads it. */
  keys(): readonly SettingSpec[];
  /** Stored settings, of one scope or all. */
  list(options?: { scope?: string }): Promise<StoredSetting[]>;
  /** The value a reader at `scope` (default `global`) gets now, and where it comes from: that scope, global or the default. */
  get(key: string, options?: { scope?: string }): Promise<ResolvedSetting>;
  /** Sets a key at a scope (default `global`). A string is parsed as the CLI does (`30`, `true`, `2s`). */
  set(key: string, value: number | boolean | string, options?: { scope?: string; updatedBy?: string }): Promise<StoredSetting>;
  /** Removes a key from a scope; the removed setting, or null when it was not set there. */
  unset(key: string, options?: { scope?: string }): Promise<StoredSetting | null>;
}

export function settingsApi(db: () => Store): SettingsApi {
  return {
    keys: () => SETTINGS,
    list: ({ scope } = {}) => db().listSettings(scope),
    async get(key, { scope = 'global' } = {}) {
      const spec = checkScope(key, scope);
      // What every reader sees once its cache expires (lib/settings.ts Settings.resolve), read now;
      // a stored value the registry refuses is an error here (readers skip it).
      for (const at of scope === 'global' ? ['global'] : [scope, 'global']) {
        const stored = await db().getSetting(at, key);
        if (stored) return { key, scope, value: checkValue(spec, stored.value), from: at === 'global' ? 'global' : 'scope' };
      }
      return { key, scope, value: spec.default, from: 'default' };
    },
    async set(key, value, { scope = 'global', updatedBy } = {}) {
      const spec = checkScope(key, scope);
      const checked = typeof value === 'string' ? parseSettingValue(key, value) : checkValue(spec, value);
      return db().setSetting({ scope, key, value: checked, updatedBy });
    },
    async unset(key, { scope = 'global' } = {}) {
      checkScope(key, scope);
      return db().unsetSetting(scope, key);
    },
  };
}
