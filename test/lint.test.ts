import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The lint rules that keep durasync honest, checked by rule id through the ESLint Node API against
 * the project's own eslint.config.mjs.
 *
 * - ESLint loads eslint.config.mjs with a dynamic `import()`, which jest's module sandbox refuses
 *   without --experimental-vm-modules; so the API runs in one child Node process (`new ESLint({ cwd })`,
 *   `lintText(code, { filePath })`) that lints every snippet in one batch and answers in JSON.
 * - Snippets are linted under virtual paths (`workflows/__lint_virtual_*.ts`...) that never exist on
 *   disk. Type-aware linting only accepts files of a TypeScript project, so the child adds
 *   `allowDefaultProject` for exactly those names (with tsconfig.json's compiler options): nothing is
 *   written for them, and nothing is left behind whatever happens.
 * - A cycle needs real files (import-x resolves and reads them), so the two-file cycle is written to
 *   test/__lint_fixture_<pid>_<n>__/ before the project is loaded and removed in afterAll. The
 *   folder name is in eslint.config.mjs's ignores, so a leftover from a killed run never shows up in
 *   `npm run lint`, and stale ones are swept at start.
 */

const ROOT = path.resolve(__dirname, '..');
const VIRTUAL_PREFIX = '__lint_virtual_';
const FIXTURE_DIR_PATTERN = /^__lint_fixture_(\d+)_\d+__$/;

interface LintCase {
  filePath: string;
  code: string;
}
interface LintMessage {
  ruleId: string | null;
  severity: number;
  message: string;
  line: number;
}
type LintResults = Record<string, LintMessage[]>;

/** Runs in the child process: ESM, so it can load eslint.config.mjs the way `eslint .` does. */
const CHILD_SCRIPT = `
import { ESLint } from 'eslint';
let input = '';
for await (const chunk of process.stdin) input += chunk;
const { cwd, cases, virtualGlob } = JSON.parse(input);
const eslint = new ESLint({
  cwd,
  // The cycle fixture lives in an ignored folder (see eslint.config.mjs); lint it anyway.
  ignore: false,
  overrideConfig: {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: [virtualGlob],
          defaultProject: 'tsconfig.json',
          // Only our virtual snippets use the default project; the cap (8) guards real trees.
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: cases.length,
        },
      },
    },
  },
});
const out = {};
for (const { filePath, code } of cases) {
  const [result] = await eslint.lintText(code, { filePath });
  out[filePath] = result.messages.map(({ ruleId, severity, message, line }) => ({ ruleId, severity, message, line }));
}
process.stdout.write(JSON.stringify(out));
`;

function lintInChild(cases: LintCase[]): Promise<LintResults> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--input-type=module', '--eval', CHILD_SCRIPT],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`eslint child failed: ${error.message}\n${stderr}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout) as LintResults);
        } catch (parseError) {
          reject(new Error(`eslint child printed no JSON: ${String(parseError)}\n${stdout}\n${stderr}`));
        }
      },
    );
    child.stdin?.end(JSON.stringify({ cwd: ROOT, cases, virtualGlob: `*/${VIRTUAL_PREFIX}*.ts` }));
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes fixture folders left by runs that were killed before their afterAll. */
function sweepStaleFixtures(): void {
  const testDir = path.join(ROOT, 'test');
  for (const name of readdirSync(testDir)) {
    const match = FIXTURE_DIR_PATTERN.exec(name);
    if (match && !isAlive(Number(match[1]))) rmSync(path.join(testDir, name), { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The snippets. Each virtual path is unique; `virtual('workflows', 'x')` -> workflows/__lint_virtual_x.ts

const cases: LintCase[] = [];
function virtual(dir: string, name: string, code: string): string {
  const filePath = `${dir}/${VIRTUAL_PREFIX}${name}.ts`;
  cases.push({ filePath, code });
  return filePath;
}

const workflowImports = {
  'node:fs': virtual('workflows', 'node_fs', `import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n`),
  fs: virtual('workflows', 'fs', `import * as fs from 'fs';\nexport const f = fs.readFileSync;\n`),
  crypto: virtual('workflows', 'crypto', `import { randomUUID } from 'crypto';\nexport const id = randomUUID;\n`),
  '@octokit/rest': virtual('workflows', 'octokit', `import { Octokit } from '@octokit/rest';\nexport const o = Octokit;\n`),
  pg: virtual('workflows', 'pg', `import { Pool } from 'pg';\nexport const p = Pool;\n`),
  '../lib/config': virtual('workflows', 'lib_config', `import { loadConfig } from '../lib/config';\nexport const c = loadConfig;\n`),
};
const workflowTypeImport = virtual(
  'workflows',
  'type_import',
  [
    `import { proxyActivities } from '@temporalio/workflow';`,
    `import type { GithubActivities } from '../activities/github';`,
    `import type * as activities from '../activities/x';`,
    ``,
    `export type Github = GithubActivities;`,
    `export type All = typeof activities;`,
    `export const proxy = proxyActivities;`,
    ``,
  ].join('\n'),
);
const workflowInlineTypeOnly = virtual(
  'workflows',
  'inline_type_only',
  `import { type Thing } from '../activities/x';\nexport type T = Thing;\n`,
);
const workflowValueImportOfActivities = virtual(
  'workflows',
  'activities_value',
  `import { createGithubActivities } from '../activities/github';\nexport const a = createGithubActivities;\n`,
);
const workflowGlobals = virtual(
  'workflows',
  'globals',
  `export function bad(): unknown {\n  setInterval(() => undefined, 1000);\n  return process.env.HOME;\n}\n`,
);
const floatingPromise = virtual(
  'lib',
  'floating',
  `async function save(): Promise<void> {}\nexport function run(): void {\n  save();\n}\n`,
);
const voidedPromise = virtual(
  'lib',
  'voided',
  `async function save(): Promise<void> {}\nexport function run(): void {\n  void save();\n}\n`,
);
const valueImportUsedAsType = virtual(
  'lib',
  'value_as_type',
  `import { Pool } from 'pg';\nexport function query(pool: Pool): Pool {\n  return pool;\n}\n`,
);
const consoleInLib = virtual('lib', 'console', `export function hello(): void {\n  console.log('hello');\n}\n`);
const consoleInBench = virtual('bench', 'console', `export function report(): void {\n  console.log('p50 12 ms');\n}\n`);

// The cycle: real files, written in beforeAll (before the child loads the TypeScript project).
const fixtureDir = path.join(ROOT, 'test', `__lint_fixture_${process.pid}_${Date.now()}__`);
const cycleA = path.join(fixtureDir, 'a.ts');
const cycleB = path.join(fixtureDir, 'b.ts');
const CYCLE_A = `import { b } from './b';\n\nexport const a = (): number => b() + 1;\n`;
const CYCLE_B = `import { a } from './a';\n\nexport const b = (): number => (a.length > 0 ? 1 : 0);\n`;

let results: LintResults;

function messagesFor(filePath: string): LintMessage[] {
  const messages = results[filePath];
  if (!messages) throw new Error(`no lint result for ${filePath}`);
  return messages;
}
function errorRules(filePath: string): (string | null)[] {
  return messagesFor(filePath)
    .filter((m) => m.severity === 2)
    .map((m) => m.ruleId);
}

beforeAll(async () => {
  sweepStaleFixtures();
  mkdirSync(fixtureDir, { recursive: true });
  writeFileSync(cycleA, CYCLE_A);
  writeFileSync(cycleB, CYCLE_B);
  results = await lintInChild([
    ...cases,
    { filePath: path.relative(ROOT, cycleA), code: readFileSync(cycleA, 'utf8') },
  ]);
}, 120_000);

afterAll(() => {
  rmSync(fixtureDir, { recursive: true, force: true });
});

describe('the workflow sandbox rule', () => {
  test.each(Object.entries(workflowImports))('rejects a workflow that imports %s', (specifier, filePath) => {
    const errors = messagesFor(filePath).filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.severity).toBe(2);
    expect(errors[0]?.message).toContain(specifier);
    expect(errors[0]?.message).toContain('must be deterministic');
  });

  test('allows a workflow to import activity types with import type', () => {
    expect(messagesFor(workflowTypeImport)).toEqual([]);
  });

  test('asks for a top-level import type when every specifier is an inline type', () => {
    expect(errorRules(workflowInlineTypeOnly)).toEqual(['@typescript-eslint/no-import-type-side-effects']);
  });

  test('rejects a value import of activities in a workflow', () => {
    expect(errorRules(workflowValueImportOfActivities)).toContain('@typescript-eslint/no-restricted-imports');
  });

  test('rejects setInterval and process in a workflow', () => {
    const globals = messagesFor(workflowGlobals).filter((m) => m.ruleId === 'no-restricted-globals');
    expect(globals.map((m) => m.line)).toEqual([2, 3]);
  });
});

describe('the rules for all TypeScript', () => {
  test('reports a floating promise as an error', () => {
    expect(errorRules(floatingPromise)).toEqual(['@typescript-eslint/no-floating-promises']);
  });

  test('accepts a promise explicitly discarded with void', () => {
    expect(messagesFor(voidedPromise)).toEqual([]);
  });

  test('reports a value import used only as a type', () => {
    expect(errorRules(valueImportUsedAsType)).toEqual(['@typescript-eslint/consistent-type-imports']);
  });

  test('reports console.log in lib', () => {
    expect(errorRules(consoleInLib)).toEqual(['no-console']);
  });

  test('lets the benchmark print to the terminal', () => {
    expect(messagesFor(consoleInBench)).toEqual([]);
  });

  test('reports a two-file import cycle', () => {
    const cycle = messagesFor(path.relative(ROOT, cycleA)).filter((m) => m.ruleId === 'import-x/no-cycle');
    expect(cycle).toHaveLength(1);
    expect(cycle[0]?.severity).toBe(2);
  });
});
