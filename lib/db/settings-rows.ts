import { reader, type Row } from './rows';
import type { JsonValue } from './types';

/** A run-time setting as stored (`settings`, 0016_settings.sql); lib/settings.ts says what the keys mean. */
export interface StoredSetting {
  /** `global`, `queue:<name>` or `source:<id>`. */
  scope: string;
  key: string;
  value: JsonValue;
  /** Who set it (the CLI records the OS user), or null. */
  updatedBy: string | null;
  updatedAt: Date;
}

export interface SetSettingInput {
  scope: string;
  key: string;
  value: JsonValue;
  updatedBy?: string;
}

export function toStoredSetting(row: Row, fn: string): StoredSetting {
  const r = reader(row, fn);
  return { scope: r.string('scope'), key: r.string('key'), value: r.json('value'), updatedBy: r.stringOrNull('updated_by'), updatedAt: r.date('updated_at') };
}
