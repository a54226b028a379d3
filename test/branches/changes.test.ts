import { ChangeInputError, parseChanges, serializeChanges } from '../../lib/branches/changes';

function errorOf(fn: () => unknown): ChangeInputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ChangeInputError) return err;
    throw err;
  }
  throw new Error('expected a ChangeInputError');
}

describe('parseChanges', () => {
  const good = { collection: 'notes', documentId: 'n1', op: 'insert', after: { title: 'a' }, ts: '2026-03-01T10:00:00Z' };

  it('reads a JSON array and NDJSON (by content type or by sniffing), normalising ts to ISO UTC', () => {
    const expected = [{ collection: 'notes', documentId: 'n1', op: 'insert', after: { title: 'a' }, ts: '2026-03-01T10:00:00.000Z' }];
    expect(parseChanges(JSON.stringify([good]), 'application/json')).toEqual(expected);
    expect(parseChanges(`  \n ${JSON.stringify([good])}`, undefined)).toEqual(expected);
    expect(parseChanges(`${JSON.stringify(good)}\n`, 'application/x-ndjson')).toEqual(expected);
    expect(parseChanges(JSON.stringify(good), 'application/jsonl; charset=utf-8')).toEqual(expected);
    expect(parseChanges(`\n${JSON.stringify(good)}\r\n\n${JSON.stringify({ ...good, documentId: 'n2', op: 'delete', after: undefined, ts: 1_772_359_200_000 })}`, undefined)).toEqual([
      expected[0],
      { collection: 'notes', documentId: 'n2', op: 'delete', ts: '2026-03-01T10:00:00.000Z' },
    ]);
    expect(parseChanges(JSON.stringify({ ...good, ts: '2026-03-01T12:00:00+02:00', extra: 'dropped' }), undefined)).toEqual(expected);
    expect(parseChanges('', undefined)).toEqual([]);
    expect(parseChanges('[]', 'application/json')).toEqual([]);
  });

  it('accepts updates with after or patch, and keeps before', () => {
    const [patch, whole] = parseChanges(
      [
        JSON.stringify({ collection: 'c', documentId: 'd', op: 'update', patch: { a: null, b: 2 }, before: { a: 1 }, ts: 0 }),
        JSON.stringify({ collection: 'c', documentId: 'd', op: 'update', after: { b: 2 }, ts: '2026-01-01' }),
      ].join('\n'),
      'application/x-ndjson',
    );
    expect(patch).toEqual({ collection: 'c', documentId: 'd', op: 'update', patch: { a: null, b: 2 }, before: { a: 1 }, ts: '1970-01-01T00:00:00.000Z' });
    expect(whole?.after).toEqual({ b: 2 });
  });

  it('refuses the whole body at the first bad line, naming it (NDJSON line / array index)', () => {
    const lines = [JSON.stringify(good), '', JSON.stringify({ ...good, op: 'upsert' }), '{broken'];
    const ndjson = errorOf(() => parseChanges(lines.join('\n'), 'application/x-ndjson'));
    expect(ndjson).toMatchObject({ name: 'ChangeInputError', line: 3, message: 'line 3: op must be insert, update or delete' });

    const cases: Array<[unknown, string]> = [
      [{ ...good, collection: '' }, 'collection must be a non-empty string'],
      [{ ...good, documentId: 7 }, 'documentId must be a non-empty string'],
      [{ ...good, after: undefined }, 'an insert needs `after`'],
      [{ ...good, op: 'update', after: undefined }, 'an update needs `after` or `patch`'],
      [{ ...good, ts: 'yesterday' }, 'ts must be an ISO 8601 string or epoch milliseconds, got "yesterday"'],
      [{ ...good, ts: '2026-13-45T00:00:00Z' }, 'ts must be an ISO 8601 string or epoch milliseconds, got "2026-13-45T00:00:00Z"'],
      [{ ...good, ts: undefined }, 'ts must be an ISO 8601 string or epoch milliseconds'],
      [{ ...good, after: [1, 2] }, 'after must be a JSON object'],
      [[1], 'a change must be a JSON object'],
      ['text', 'a change must be a JSON object'],
    ];
    for (const [value, message] of cases) {
      expect(errorOf(() => parseChanges(JSON.stringify([good, value]), 'application/json'))).toMatchObject({ line: 2, message: `line 2: ${message}` });
    }
    expect(errorOf(() => parseChanges(`${JSON.stringify(good)}\n{broken`, undefined))).toMatchObject({ line: 2, message: expect.stringMatching(/^line 2: not valid JSON/) as unknown });
    expect(errorOf(() => parseChanges('[\n{"a":1},\n{broken', 'application/json'))).toMatchObject({ message: expect.stringMatching(/^line \d+: the body is not valid JSON/) as unknown });
  });

  it('serialises changes as NDJSON without a trailing newline, and parses its own output', () => {
    const changes = parseChanges(JSON.stringify([good, { ...good, documentId: 'n2' }]), undefined);
    const text = serializeChanges(changes);
    expect(text.split('\n')).toHaveLength(2);
    expect(text.endsWith('\n')).toBe(false);
    expect(parseChanges(text, 'application/x-ndjson')).toEqual(changes);
    expect(serializeChanges([])).toBe('');
  });
});
