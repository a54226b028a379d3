import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../lib/logger';

/**
 * An emulator's state kept in one JSON file (`{ version: 1, emulator, parts: { <key>: ... } }`):
 * loaded once at start, saved after changes (debounced, atomically: a temp file renamed over the
 * old one, at most one write in flight), flushed on close. Each piece of state is a `StatePart`;
 * adding one is one line in the emulator's list of parts, e.g. for a class with snapshot()/restore():
 * `{ key: 'consents', snapshot: () => consents.snapshot(), restore: (json) => consents.restore(json) }`.
 * A part missing from an older file is left as it starts; the emulator must also call `changed()`
 * after the part changes outside a non-GET request (both emulators already do after every such request).
 */

/** One piece of an emulator's state, saved under `key`. */
export interface StatePart {
  key: string;
  /** JSON-ready data (Buffers as base64). */
  snapshot(): unknown;
  /** Replaces the piece's state with saved data; throws on data it cannot take. */
  restore(json: unknown): void;
}

/** A state file that exists but cannot be loaded. */
export class StateFileError extends Error {
  override readonly name = 'StateFileError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`emulator state file ${file} cannot be loaded: ${reason}`);
  }
}

export interface StateFileOptions {
  /** `drive`, `github`: a file saved by another emulator is refused. */
  emulator: string;
  /** Longest wait from a change to its save. Default: 200 ms. */
  delayMs?: number;
  /** Receives a line when a background save fails. Default: none. */
  logger?: Logger;
}

const VERSION = 1;

export class StateFile {
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private writing: Promise<void> | undefined;

  constructor(
    readonly file: string,
    private readonly parts: readonly StatePart[],
    private readonly options: StateFileOptions,
  ) {}

  /** Restores every part saved in the file; a missing file leaves the state empty. */
  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new StateFileError(this.file, (err as Error).message);
    }
    let envelope: unknown;
    try {
      envelope = JSON.parse(text);
    } catch (err) {
      throw new StateFileError(this.file, `not JSON (${(err as Error).message})`);
    }
    const e = envelope as { version?: unknown; emulator?: unknown; parts?: unknown } | null;
    if (!e || typeof e !== 'object' || e.version !== VERSION) throw new StateFileError(this.file, `expected { "version": ${VERSION}, ... }`);
    if (e.emulator !== this.options.emulator) throw new StateFileError(this.file, `it holds the state of the ${String(e.emulator)} emulator, not ${this.options.emulator}`);
    if (!e.parts || typeof e.parts !== 'object') throw new StateFileError(this.file, '"parts" is not an object');
    const saved = e.parts as Record<string, unknown>;
    for (const part of this.parts) {
      if (!(part.key in saved)) continue;
      try {
        part.restore(saved[part.key]);
      } catch (err) {
        throw new StateFileError(this.file, `${part.key}: ${(err as Error).message}`);
      }
    }
  }

  /** Schedules a save within `delayMs`. */
  changed(): void {
    this.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.save().catch((err: unknown) => this.options.logger?.error({ err, file: this.file }, 'emulator state: save failed'));
    }, this.options.delayMs ?? 200);
  }

  /** Saves what changed now, after any write in flight. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.save();
  }

  private async save(): Promise<void> {
    while (this.writing) await this.writing;
    if (!this.dirty) return;
    this.dirty = false;
    const parts = Object.fromEntries(this.parts.map((p) => [p.key, p.snapshot()]));
    const text = JSON.stringify({ version: VERSION, emulator: this.options.emulator, savedAt: new Date().toISOString(), parts });
    this.writing = this.write(text).finally(() => (this.writing = undefined));
    try {
      await this.writing;
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }

  private async write(text: string): Promise<void> {
    const tmp = `${this.file}.${process.pid}.tmp`;
    await mkdir(path.dirname(this.file), { recursive: true });
    await writeFile(tmp, text);
    await rename(tmp, this.file);
  }
}

/** `target` with every method also calling `changed` after it returns (seed helpers that write). */
export function notifying<T extends object>(target: T, changed: () => void): T {
  const wrapped = { ...target } as Record<string, unknown>;
  for (const [name, value] of Object.entries(target)) {
    if (typeof value !== 'function') continue;
    wrapped[name] = (...args: unknown[]) => {
      const result: unknown = (value as (...a: unknown[]) => unknown)(...args);
      changed();
      return result;
    };
  }
  return wrapped as T;
}

/** `value` as the array a part saved, or an Error naming `what` (a restore refuses data it cannot take). */
export function savedList(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what} is not an array`);
  return value;
}

/** `value` as the object a part saved, or an Error naming `what`. */
export function savedRecord(value: unknown, what: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${what} is not an object`);
  return value as Record<string, unknown>;
}
