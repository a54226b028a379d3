import { invalidParameter } from './errors';

/** A parsed `fields` selector: `true` keeps a whole value, a map keeps the named members. */
export type Selection = true | Map<string, Selection>;

/**
 * Parses Drive's partial-response syntax: `nextPageToken, files(id, name, parents)`, `files/id`,
 * `*`, nesting as deep as needed. Syntax errors are 400 `invalidParameter` on `fields`.
 */
export function parseFields(fields: string): Selection {
  const text = fields.replace(/\s+/g, '');
  let pos = 0;
  const fail = () => invalidParameter('fields', `Invalid field selection ${fields}`);

  function list(): Map<string, Selection> {
    const out = new Map<string, Selection>();
    for (;;) {
      item(out);
      if (text[pos] !== ',') return out;
      pos += 1;
    }
  }
  function item(into: Map<string, Selection>): void {
    const match = /^[A-Za-z_*][A-Za-z0-9_]*/.exec(text.slice(pos));
    if (!match) throw fail();
    pos += match[0].length;
    const name = match[0];
    let sub: Selection;
    if (text[pos] === '/') {
      pos += 1;
      const nested = new Map<string, Selection>();
      item(nested);
      sub = nested;
    } else if (text[pos] === '(') {
      pos += 1;
      sub = list();
      if (text[pos] !== ')') throw fail();
      pos += 1;
    } else {
      sub = true;
    }
    into.set(name, merge(into.get(name), sub));
  }

  if (text === '' || text === '*') return true;
  const selection = list();
  if (pos !== text.length) throw fail();
  return selection;
}

function merge(a: Selection | undefined, b: Selection): Selection {
  if (a === undefined) return b;
  if (a === true || b === true) return true;
  const out = new Map(a);
  for (const [k, v] of b) out.set(k, merge(out.get(k), v));
  return out;
}

/** Keeps what `selection` names of `value`, applying it to each element of arrays. */
export function pick(value: unknown, selection: Selection): unknown {
  if (selection === true || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => pick(v, selection));
  if (selection.get('*') === true) return value;
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of selection) {
    if (source[key] !== undefined) out[key] = pick(source[key], sub);
  }
  return out;
}

/** The fields Drive answers with when the request names none. */
export const DEFAULT_FILE_FIELDS = 'kind,id,name,mimeType';
