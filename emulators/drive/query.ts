import { invalidValue } from './errors';
import type { StoredFile } from './store';

/** A compiled `q`: true when the file matches. */
export type FilePredicate = (file: StoredFile) => boolean;

type Token = { kind: 'string' | 'word' | 'op' | 'punct'; text: string };

const invalid = () => invalidValue('q');

function tokenize(q: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const ch = q[i] ?? '';
    if (/\s/.test(ch)) {
      i += 1;
    } else if (ch === "'" || ch === '"') {
      let text = '';
      i += 1;
      while (i < q.length && q[i] !== ch) {
        if (q[i] === '\\' && i + 1 < q.length) i += 1;
        text += q[i];
        i += 1;
      }
      if (i >= q.length) throw invalid();
      i += 1;
      tokens.push({ kind: 'string', text });
    } else if ('(){}'.includes(ch)) {
      tokens.push({ kind: 'punct', text: ch });
      i += 1;
    } else if ('=!<>'.includes(ch)) {
      const two = q.slice(i, i + 2);
      const text = ['!=', '<=', '>='].includes(two) ? two : ch;
      if (text === '!') throw invalid();
      tokens.push({ kind: 'op', text });
      i += text.length;
    } else {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(q.slice(i));
      if (!match) throw invalid();
      tokens.push({ kind: 'word', text: match[0] });
      i += match[0].length;
    }
  }
  return tokens;
}

const TIME_FIELDS = new Set(['modifiedTime', 'createdTime']);

/**
 * Compiles the subset of Drive's query language sync needs: `'<id>' in parents`,
 * `trashed = true|false`, `mimeType = | != '...'`, `name = | != | contains '...'`,
 * `modifiedTime`/`createdTime` comparisons, `appProperties has { key='k' and value='v' }`, joined by
 * `and`/`or`, grouped with parentheses, negated with `not`. Anything else is Drive's 400 `invalid`.
 * `resolveId` maps aliases (`root`) to ids.
 */
export function compileQuery(q: string, resolveId: (id: string) => string): FilePredicate {
  const tokens = tokenize(q);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = (): Token => {
    const token = tokens[pos++];
    if (!token) throw invalid();
    return token;
  };
  const expect = (kind: Token['kind'], text?: string): Token => {
    const token = next();
    if (token.kind !== kind || (text !== undefined && token.text.toLowerCase() !== text)) throw invalid();
    return token;
  };
  const isWord = (token: Token | undefined, word: string) => token?.kind === 'word' && token.text.toLowerCase() === word;

  function orExpr(): FilePredicate {
    let left = andExpr();
    while (isWord(peek(), 'or')) {
      pos += 1;
      const [a, b] = [left, andExpr()];
      left = (f) => a(f) || b(f);
    }
    return left;
  }
  function andExpr(): FilePredicate {
    let left = unary();
    while (isWord(peek(), 'and')) {
      pos += 1;
      const [a, b] = [left, unary()];
      left = (f) => a(f) && b(f);
    }
    return left;
  }
  function unary(): FilePredicate {
    const token = peek();
    if (isWord(token, 'not')) {
      pos += 1;
      const inner = unary();
      return (f) => !inner(f);
    }
    if (token?.kind === 'punct' && token.text === '(') {
      pos += 1;
      const inner = orExpr();
      expect('punct', ')');
      return inner;
    }
    return term();
  }
  function term(): FilePredicate {
    const first = next();
    if (first.kind === 'string') {
      expect('word', 'in');
      expect('word', 'parents');
      const id = resolveId(first.text);
      return (f) => f.parents.includes(id);
    }
    if (first.kind !== 'word') throw invalid();
    const field = first.text;
    if (field === 'appProperties' || field === 'properties') {
      expect('word', 'has');
      expect('punct', '{');
      expect('word', 'key');
      expect('op', '=');
      const key = expect('string').text;
      expect('word', 'and');
      expect('word', 'value');
      expect('op', '=');
      const value = expect('string').text;
      expect('punct', '}');
      // The emulator keeps no public `properties`: they never match.
      return field === 'appProperties' ? (f) => f.appProperties[key] === value : () => false;
    }
    const op = next();
    const operator = op.kind === 'op' ? op.text : op.kind === 'word' && op.text === 'contains' ? 'contains' : undefined;
    const value = next();
    if (!operator) throw invalid();
    if (field === 'trashed') {
      if (value.kind !== 'word' || !['true', 'false'].includes(value.text) || !['=', '!='].includes(operator)) throw invalid();
      const want = value.text === 'true';
      return operator === '=' ? (f) => f.trashed === want : (f) => f.trashed !== want;
    }
    if (value.kind !== 'string') throw invalid();
    if (field === 'name' || field === 'mimeType') {
      const get = (f: StoredFile) => (field === 'name' ? f.name : f.mimeType);
      if (operator === '=') return (f) => get(f) === value.text;
      if (operator === '!=') return (f) => get(f) !== value.text;
      if (operator === 'contains' && field === 'name') return (f) => f.name.toLowerCase().includes(value.text.toLowerCase());
      throw invalid();
    }
    if (TIME_FIELDS.has(field) && operator !== 'contains') {
      const at = Date.parse(value.text);
      if (Number.isNaN(at)) throw invalid();
      const get = (f: StoredFile) => Date.parse(field === 'modifiedTime' ? f.modifiedTime : f.createdTime);
      const compare: Record<string, (a: number) => boolean> = {
        '=': (a) => a === at, '!=': (a) => a !== at, '<': (a) => a < at, '<=': (a) => a <= at, '>': (a) => a > at, '>=': (a) => a >= at,
      };
      const cmp = compare[operator];
      if (!cmp) throw invalid();
      return (f) => cmp(get(f));
    }
    throw invalid();
  }

  if (tokens.length === 0) return () => true;
  const predicate = orExpr();
  if (pos !== tokens.length) throw invalid();
  return predicate;
}

const ORDER_KEYS: Record<string, (f: StoredFile) => string | number> = {
  name: (f) => f.name,
  name_natural: (f) => f.name,
  modifiedTime: (f) => f.modifiedTime,
  createdTime: (f) => f.createdTime,
  folder: (f) => (f.mimeType === 'application/vnd.google-apps.folder' ? 0 : 1),
};

/** Sorts by Drive's `orderBy` (`folder,name desc,...`); an unknown key is 400 `invalid`. */
export function compileOrderBy(orderBy: string): (a: StoredFile, b: StoredFile) => number {
  const keys = orderBy.split(',').map((part) => {
    const [key = '', direction = 'asc', ...rest] = part.trim().split(/\s+/);
    const get = ORDER_KEYS[key];
    if (!get || rest.length > 0 || !['asc', 'desc'].includes(direction)) throw invalidValue('orderBy', `Invalid Value`);
    return { get, sign: direction === 'desc' ? -1 : 1 };
  });
  return (a, b) => {
    for (const { get, sign } of keys) {
      const [x, y] = [get(a), get(b)];
      if (x < y) return -sign;
      if (x > y) return sign;
    }
    return 0;
  };
}
