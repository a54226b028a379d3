// ESLint flat config for durasync (`npm run lint` = `eslint .`).
//
// Three layers:
//   1. every TypeScript file: typescript-eslint recommended-type-checked (type-aware through the
//      project service, which reads tsconfig.json), promise rules, type-only imports, no import
//      cycles, no console;
//   2. workflows/**: the workflow sandbox rule. Workflow code is replayed from history, so it must be
//      deterministic: no Node built-ins, no network or IO SDKs, no value imports of our side-effect
//      folders (type-only imports of activities stay allowed: that is how workflows name them);
//   3. bin/*.js: the published CLI shim, linted as plain CommonJS without type information.
//
// test/lint.test.ts checks the rules that matter here, by rule id.
import { builtinModules } from 'node:module';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

/** The folders that hold our TypeScript: tsconfig.json's "include", which the project service reads. */
const SOURCE_DIRS = ['workflows', 'activities', 'workers', 'client', 'lib', 'emulators', 'test', 'bench'];
const TS_FILES = SOURCE_DIRS.map((dir) => `${dir}/**/*.ts`);

const WORKFLOW_SANDBOX_MESSAGE =
  'Workflow code must be deterministic (it is replayed from history) and runs in the Temporal ' +
  'workflow sandbox: import only @temporalio/workflow, @temporalio/common and pure code in ' +
  'workflows/. Side effects belong in activities; reference them with `import type` and ' +
  'proxyActivities.';

/** Every Node built-in, in both forms (`fs` and `node:fs`); `node:`-only ones (node:test, node:sqlite...) once. */
const NODE_BUILTINS = [
  ...new Set(builtinModules.flatMap((name) => (name.startsWith('node:') ? [name] : [name, `node:${name}`]))),
].sort();

/** Network / IO SDKs, banned with their subpaths (`pg/lib/...`, `googleapis/build/...`). */
const SIDE_EFFECT_PACKAGES = [
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/testing',
  '@temporalio/envconfig',
  'googleapis',
  'ioredis',
  'pg',
  'pino',
  'prom-client',
  'node-fetch',
  'axios',
  'undici',
];
/** Whole npm scopes: `@octokit/rest`, `@supabase/supabase-js`, `@electric-sql/pglite`... */
const SIDE_EFFECT_SCOPES = ['@octokit', '@supabase', '@electric-sql'];

const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const SIDE_EFFECT_REGEX =
  `^(?:${SIDE_EFFECT_PACKAGES.map(escapeRegex).join('|')}|(?:${SIDE_EFFECT_SCOPES.map(escapeRegex).join('|')})/[^/]+)(?:/.*)?$`;

export default defineConfig([
  globalIgnores([
    '**/node_modules/',
    'dist/',
    '.tools/',
    '.durasync/',
    'coverage/',
    // Config files (jest.config.js, this file...) are not linted; bin/*.js is, as plain JS (below).
    '**/*.js',
    '**/*.cjs',
    '**/*.mjs',
    '!bin/*.js',
    // Scratch fixtures that test/lint.test.ts writes (and removes); never part of the tree.
    '**/__lint_fixture*__/',
  ]),

  // 1. Every TypeScript file: type-aware rules.
  ...tseslint.configs.recommendedTypeChecked.map((config) => ({ ...config, files: TS_FILES })),
  {
    name: 'durasync/typescript',
    files: TS_FILES,
    languageOptions: {
      parserOptions: {
        // One TypeScript language service for the whole run, configured by tsconfig.json.
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'],
      'import-x/external-module-folders': ['node_modules', 'node_modules/@types'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.mts', '.cts'] },
      // import-x 4's built-in resolver (unrs-resolver), taught TypeScript's extensions. Enough for
      // this project: CommonJS, moduleResolution node10, relative imports, no `paths` aliases.
      // (eslint-import-resolver-typescript would add `paths`/project references; not needed.)
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.mts', '.cts', '.d.ts', '.js', '.mjs', '.cjs', '.json', '.node'],
          conditionNames: ['types', 'require', 'node', 'import', 'default'],
        }),
      ],
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Promises: a forgotten await is a lost error or an activity that outlives its workflow task.
      // `void promise` is the explicit opt-out (ignoreVoid, the default).
      '@typescript-eslint/no-floating-promises': 'error',
      // Full checksVoidReturn, http handlers included: write `(req, res) => { void handle(req, res); }`
      // and catch inside `handle`, so a rejected handler never becomes an unhandled rejection.
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: true },
      ],
      // With inline `type` specifiers, an import whose specifiers are all types must be written
      // `import type`, so that every transpiler (tsc, swc in the workflow bundler) erases it whole.
      '@typescript-eslint/no-import-type-side-effects': 'error',
      // Type-only imports do not count as cycles (no runtime edge); external packages are not walked.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // Logging goes through pino (lib/logger.ts) or, in workflows, the SDK's `log`.
      'no-console': 'error',

      // Tuned from recommended-type-checked:
      // Off: activity implementations, fakes and interface methods are `async` without `await` by
      // design (they satisfy a Promise-returning signature); the real promise bugs are caught by
      // no-floating-promises / no-misused-promises / await-thenable.
      '@typescript-eslint/require-await': 'off',
      // Kept, with the conventional escape hatch: `_`-prefixed names are intentionally unused.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],

      // A few eslint:recommended rules that TypeScript does not already enforce (@eslint/js is not a
      // dependency; typescript-eslint's eslint-recommended layer adds no-var, prefer-const...).
      'no-debugger': 'error',
      'no-duplicate-case': 'error',
      'no-self-assign': 'error',
      'no-unsafe-finally': 'error',
      'no-async-promise-executor': 'error',
      'no-cond-assign': 'error',
      'no-empty-pattern': 'error',
      'no-unsafe-optional-chaining': 'error',
      'no-useless-catch': 'error',
      'no-constant-binary-expression': 'error',
      'no-loss-of-precision': 'error',
      'no-sparse-arrays': 'error',
    },
  },

  // Command-line programs print to the terminal: console is their output, not logging.
  {
    name: 'durasync/cli-console',
    files: ['client/cli*.ts', 'client/cli*/**/*.ts', 'bench/**/*.ts', 'emulators/**/*.ts'],
    rules: { 'no-console': 'off' },
  },

  // Tests: jest's `expect(fake.method).toHaveBeenCalled()` passes methods unbound on purpose.
  {
    name: 'durasync/tests',
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/unbound-method': 'off' },
  },

  // 2. The workflow sandbox.
  {
    name: 'durasync/workflow-sandbox',
    files: ['workflows/**/*.ts'],
    rules: {
      // The typescript-eslint variant understands `allowTypeImports`: `import type { ... } from
      // '../activities/x'` (and `import { type X }`) is erased at compile time and stays allowed.
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: NODE_BUILTINS.map((name) => ({ name, message: `Node built-in. ${WORKFLOW_SANDBOX_MESSAGE}` })),
          patterns: [
            {
              regex: SIDE_EFFECT_REGEX,
              message: `Network / IO SDK. ${WORKFLOW_SANDBOX_MESSAGE}`,
            },
            {
              // ../lib, ../activities/x, ../../workers/y ...: value imports only; types are fine.
              regex: '^(\\.\\./)+(lib|activities|workers|client)(/.*)?$',
              allowTypeImports: true,
              message: `Side-effect folder (value import). ${WORKFLOW_SANDBOX_MESSAGE}`,
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['setInterval', 'fetch', 'process', 'require'].map((name) => ({
          name,
          message: `\`${name}\` is not available or not deterministic in workflows. ${WORKFLOW_SANDBOX_MESSAGE}`,
        })),
      ],
      // Dynamic import() escapes the workflow bundle and the import rules above.
      'no-restricted-syntax': [
        'error',
        { selector: 'ImportExpression', message: `Dynamic import() in a workflow. ${WORKFLOW_SANDBOX_MESSAGE}` },
      ],
    },
  },

  // 3. bin/*.js: the CLI shim, plain CommonJS, no type information.
  {
    name: 'durasync/bin',
    files: ['bin/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      ecmaVersion: 2023,
      globals: {
        require: 'readonly',
        module: 'writable',
        exports: 'writable',
        __dirname: 'readonly',
        __filename: 'readonly',
        process: 'readonly',
        console: 'readonly',
      },
    },
    rules: {
      'no-undef': 'error',
      'no-unused-vars': 'error',
      'no-debugger': 'error',
    },
  },
]);
