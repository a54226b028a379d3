import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StateFile, StateFileError } from '../../emulators/state-file';
import type { StatePart } from '../../emulators/state-file';

// The emulators' state file: debounced, atomic saves of a list of parts, and loading them back.
let dir: string;
let file: string;

/** A part holding a counter, counting its snapshots. */
function counter(key: string): StatePart & { value: number; snapshots: number } {
  const part = {
    key,
    value: 0,
    snapshots: 0,
    snapshot: () => {
      part.snapshots++;
      return { value: part.value };
    },
    restore: (json: unknown) => {
      part.value = (json as { value: number }).value;
    },
  };
  return part;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'durasync-state-file-'));
  file = path.join(dir, 'nested', 'state.json');
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('saves a burst of changes once, within the delay, creating the directory', async () => {
  const part = counter('a');
  const state = new StateFile(file, [part], { emulator: 'test', delayMs: 50 });
  for (let i = 1; i <= 100; i++) {
    part.value = i;
    state.changed();
  }
  await new Promise((r) => setTimeout(r, 150));
  expect(part.snapshots).toBe(1);
  expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ version: 1, emulator: 'test', parts: { a: { value: 100 } } });
});

test('flush writes the last change at once, after a write in flight, and nothing when nothing changed', async () => {
  const part = counter('a');
  const state = new StateFile(file, [part], { emulator: 'test', delayMs: 10_000 });
  part.value = 1;
  state.changed();
  const first = state.flush();
  part.value = 2;
  state.changed();
  await Promise.all([first, state.flush()]);
  expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ parts: { a: { value: 2 } } });
  expect(part.snapshots).toBe(2);
  await state.flush();
  expect(part.snapshots).toBe(2);
});

test('loads every saved part and leaves a part the file does not hold as it starts', async () => {
  const saved = counter('a');
  saved.value = 7;
  const writer = new StateFile(file, [saved], { emulator: 'test' });
  writer.changed();
  await writer.flush();
  const [a, b] = [counter('a'), counter('b')];
  b.value = 3;
  await new StateFile(file, [a, b], { emulator: 'test' }).load();
  expect([a.value, b.value]).toEqual([7, 3]);
});

test('names the file and the part when a part refuses its data', async () => {
  writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ version: 1, emulator: 'test', parts: { a: null } }));
  const bad = path.join(dir, 'bad.json');
  const refusing: StatePart = { key: 'a', snapshot: () => null, restore: () => { throw new Error('not a counter'); } };
  const err = await new StateFile(bad, [refusing], { emulator: 'test' }).load().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(StateFileError);
  expect(err).toMatchObject({ file: bad, message: `emulator state file ${bad} cannot be loaded: a: not a counter` });
});
