import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node built-ins, by both spellings: the workflow sandbox has no I/O, clocks or randomness of its own. */
const nodeBuiltins = [
  'assert',
  'buffer',
  'child_process',
  'cluster',
  'crypto',
  'dgram',
  'dns',
  'events',
  'fs',
  'fs/promises',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'path',
  'perf_hooks',
  'process',
  'readline',
  'stream',
  'timers',
  'tls',
  'url',
  'util',
  'v8',
  'vm',
  'worker_threads',
  'zlib',
].flatMap((m) => [m, `node:${m}`]);

/** What the dashboard's page scripts (plain ES modules, no bundler) find in the browser. */
const browserGlobals = Object.fromEntries(
  [
    'window',
    'document',
    'fetch',
    'performance',
    'requestAnimationFrame',
    'setTimeout',
    'clearTimeout',
    'URLSearchParams',
    'Intl',
    'L',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  { ignores: ['node_modules/', '.stack/', 'dist/', 'spark/', 'bin/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // A promise nobody awaits is a step nobody waits for: in a workflow, a cleanup that may never run.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after'],
            },
          ],
        },
      ],
    },
  },
  {
    // Activities reach the workflows' side only through the protocol module (src/shared/lock-protocol.ts), never
    // a workflow file.
    files: ['src/activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../workflows', '../workflows/*', '../../workflows', '../../workflows/*'],
              message:
                'activities import the lock protocol from src/shared/lock-protocol.ts, not workflow files',
            },
          ],
        },
      ],
    },
  },
  {
    // Workflow code is replayed: it may only see activities through their types, never run their code or Node's.
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'workflow code must not do I/O: use an activity',
          })),
          patterns: [
            {
              group: ['../activities', '../activities/*', '../../activities', '../../activities/*'],
              allowTypeImports: true,
              message: 'workflows see activities through types only (import type), and call them via proxies',
            },
            {
              group: [
                '@aws-sdk/*',
                'pg',
                'pg-*',
                'ssh2',
                'nodemailer',
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
              ],
              message: 'workflow code must not do I/O: use an activity',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/dashboard/public/**/*.js'],
    languageOptions: { sourceType: 'module', globals: browserGlobals },
  },
  {
    // Tool configuration read by Node as CommonJS.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
);
