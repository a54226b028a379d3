import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Keeps the README honest: (a) every relative link of README.md and docs/*.md reaches a file (and
 * an `#anchor` into a markdown file reaches a heading, by GitHub's slug rules); (b) every command
 * line in the README's ```sh blocks is run, exactly as written, by .ci/run or by a test (a .ts file
 * under test/); (c) the README stays a front door, under 420 lines.
 */
const ROOT = path.resolve(__dirname, '..');
const README = path.join(ROOT, 'README.md');
const MAX_README_LINES = 420;

const FENCE = /^\s*(```|~~~)/;

/** Lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(text: string): Array<{ line: string; n: number }> {
  const out: Array<{ line: string; n: number }> = [];
  let fenced = false;
  text.split('\n').forEach((line, i) => {
    if (FENCE.test(line)) fenced = !fenced;
    else if (!fenced) out.push({ line, n: i + 1 });
  });
  return out;
}

/** GitHub's anchor for a heading's text (github-slugger): lower case, punctuation dropped, each space a hyphen. */
export function githubSlug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/[`*]/g, '') // code spans and emphasis
    .trim()
    .toLowerCase();
  return rendered.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Every anchor a markdown file's headings make, duplicates numbered as GitHub numbers them. */
function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const { line } of proseLines(readFileSync(file, 'utf8'))) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = githubSlug(m[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

interface Link { file: string; n: number; target: string }

/** Inline links and images outside code (fences and code spans). */
function linksOf(file: string): Link[] {
  const links: Link[] = [];
  for (const { line, n } of proseLines(readFileSync(file, 'utf8'))) {
    const text = line.replace(/`[^`]*`/g, '``');
    for (const m of text.matchAll(/!?\[(?:[^\]]|``)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ file, n, target: m[1]! });
    }
  }
  return links;
}

/** What is wrong with a link, or null. */
function brokenLink({ file, target }: Link): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // http:, https:, mailto:
  const [rawPath, anchor] = target.split('#', 2) as [string, string | undefined];
  const resolved = rawPath === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(rawPath.split('?')[0]!));
  const rel = path.relative(ROOT, resolved).split(path.sep).join('/');
  if (rel.startsWith('..')) return `${target}: outside the repository`;
  if (!existsSync(resolved)) return `${target}: no file ${rel}`;
  if (anchor === undefined || anchor === '' || !resolved.endsWith('.md') || statSync(resolved).isDirectory()) return null;
  return anchorsOf(resolved).has(anchor) ? null : `${target}: no heading with anchor #${anchor} in ${rel}`;
}

function markdownFiles(): string[] {
  const docs = path.join(ROOT, 'docs');
  return [README, ...readdirSync(docs).filter((f) => f.endsWith('.md')).sort().map((f) => path.join(docs, f))];
}

/** Drops a trailing `# comment` that is outside quotes. */
function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) { if (c === quote) quote = null; continue; }
    if (c === '\'' || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

/** The command lines of README.md's ```sh blocks: `$ ` and trailing comments dropped. */
export function readmeCommands(text: string): string[] {
  const commands: string[] = [];
  let inSh = false;
  let pending = '';
  for (const raw of text.split('\n')) {
    if (FENCE.test(raw)) { inSh = !inSh && /^\s*```sh\s*$/.test(raw); continue; }
    if (!inSh) continue;
    let line = stripComment(raw.trim().replace(/^\$ /, '')).trim();
    if (line.endsWith('\\')) { pending += `${line.slice(0, -1).trim()} `; continue; }
    line = (pending + line).trim();
    pending = '';
    if (line) commands.push(line);
  }
  return commands;
}

/** A command as a pattern: `<placeholder>` stands for any one word; it must not go on with more arguments. */
function commandPattern(command: string): RegExp {
  const body = command
    .split(/(<[A-Za-z][\w-]*>)/)
    .map((part, i) => (i % 2 === 1 ? '\\S+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`(?:^|[\\s'"\`(;&|])${body}(?=$|[ \\t]*(?:[#;&|>)'"\`,]|2>|$))`, 'm');
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Where commands are run: .ci/run without its comments, and the tests' code without theirs. */
function runners(): Array<{ name: string; text: string }> {
  const ci = readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8').split('\n').map(stripComment).join('\n');
  const tests = tsFiles(path.join(ROOT, 'test'))
    .filter((f) => f !== __filename)
    .map((f) => ({
      name: path.relative(ROOT, f),
      text: readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/.*$/gm, '$1'),
    }));
  return [{ name: '.ci/run', text: ci }, ...tests];
}

describe('README.md and docs/', () => {
  test('every relative link reaches a file, and every #anchor a heading of it', () => {
    const broken = markdownFiles()
      .flatMap(linksOf)
      .map((link) => ({ link, why: brokenLink(link) }))
      .filter((b) => b.why !== null)
      .map(({ link, why }) => `${path.relative(ROOT, link.file)}:${link.n}: ${why}`);
    if (broken.length) throw new Error(`broken links:\n  ${broken.join('\n  ')}`);
  });

  test('every command in the README is run, exactly as written, by .ci/run or a test', () => {
    const commands = readmeCommands(readFileSync(README, 'utf8'));
    expect(commands).toEqual(expect.arrayContaining(['npm run dev', 'npm test']));
    const where = runners();
    const runBy = (command: string) => where.filter((w) => commandPattern(command).test(w.text)).map((w) => w.name);
    const notRun = commands.filter((c) => runBy(c).length === 0);
    if (notRun.length) {
      throw new Error(`README commands that neither .ci/run nor any test/**/*.ts runs verbatim:\n  ${notRun.join('\n  ')}`);
    }
  });

  test(`the README stays under ${MAX_README_LINES} lines`, () => {
    const lines = readFileSync(README, 'utf8').replace(/\n$/, '').split('\n').length;
    expect(lines).toBeLessThan(MAX_README_LINES);
  });

  test('the helpers follow the rules they check', () => {
    expect(githubSlug('Pulled events (`ingestSource`)')).toBe('pulled-events-ingestsource');
    expect(githubSlug('Usage, --json and exit codes')).toBe('usage---json-and-exit-codes');
    expect(githubSlug('Drive <-> GitHub sync')).toBe('drive---github-sync');
    expect(brokenLink({ file: README, n: 1, target: 'docs/CLI.md#sync-links' })).toBeNull();
    expect(brokenLink({ file: README, n: 1, target: 'docs/CLI.md#no-such-heading' })).toMatch(/no heading/);
    expect(brokenLink({ file: README, n: 1, target: 'docs/NO-SUCH-PAGE.md' })).toMatch(/no file/);
    expect(linksOf(README).length).toBeGreaterThan(20);
    expect(readmeCommands('```sh\n$ npx durasync demo edit   # a comment\nnpx durasync schedule create x --cron "0 # *"\n```\n```\nnot sh\n```'))
      .toEqual(['npx durasync demo edit', 'npx durasync schedule create x --cron "0 # *"']);
    const p = commandPattern('npx durasync links create --drive-folder <folderId> --repo a/b');
    expect(p.test('  npx durasync links create --drive-folder "$FOLDER" --repo a/b\n')).toBe(true);
    expect(p.test("run('npx durasync links create --drive-folder f1 --repo a/b')")).toBe(true);
    expect(p.test('npx durasync links create --drive-folder f1 --repo a/b --branch dev')).toBe(false);
    expect(commandPattern('npm test').test('DURASYNC_UPDATE_SCREENSHOTS=1 npm test   # refresh')).toBe(true);
    expect(commandPattern('npx durasync events count').test('npx durasync events count --json')).toBe(false);
  });
});
