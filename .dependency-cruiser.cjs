/**
 * The rooms of src/ and the one direction of their imports, as docs/architecture.md draws them: entry points →
 * workflows → activities → Temporal and data → config and shared at the bottom. test/unit/architecture.test.ts runs
 * these rules over src/ (and over a tree that breaks each of them, so a rule that no longer matches is noticed).
 */
const ENTRY_POINTS = '^src/(client\\.ts|worker\\.ts|cli/|worker/|dashboard/|demo/)';
const BOTTOM = ['^src/config/', '^src/shared/', '^src/cost/run-cost\\.ts$'];

module.exports = {
  forbidden: [
    {
      name: 'imports-resolve',
      comment: 'An import the rules cannot follow is one they cannot judge.',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'no-circular',
      comment: 'A cycle has no floor order: one of its modules belongs lower, or in a module of its own.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'workflows-are-replayable',
      comment:
        'Workflow code is replayed: it imports other workflow code, shared/, the pure cluster cost and the ' +
        "Temporal workflow API only (no Node built-in, no I/O client); the activities' types come in as types.",
      severity: 'error',
      from: { path: '^src/workflows/' },
      to: {
        pathNot: [
          '^src/(workflows|shared|activities)/',
          '^src/cost/run-cost\\.ts$',
          '^node_modules/@temporalio/(workflow|common)/',
        ],
      },
    },
    {
      name: 'workflows-see-activities-as-types',
      comment: 'Workflows call activities through proxies typed from their factories, never their code.',
      severity: 'error',
      from: { path: '^src/workflows/' },
      to: { path: '^src/activities/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'activities-below-workflows',
      comment: 'An activity talks to its outside system; the lock protocol it needs lives in shared/.',
      severity: 'error',
      from: { path: '^src/activities/' },
      to: { path: ['^src/workflows/', ENTRY_POINTS] },
    },
    {
      name: 'temporal-and-data-below-activities',
      comment:
        'runs/, temporal/, db/ and the cost read from Temporal serve the floors above and know none of them.',
      severity: 'error',
      from: { path: ['^src/(runs|temporal|db)/', '^src/cost/from-temporal\\.ts$'] },
      to: { path: ['^src/(workflows|activities)/', ENTRY_POINTS] },
    },
    {
      name: 'bottom-imports-nothing-above',
      comment:
        'The configuration, what crosses the workflow/activity line and the pure cost are the ground floor.',
      severity: 'error',
      from: { path: BOTTOM },
      to: { path: '^src/', pathNot: BOTTOM },
    },
    {
      name: 'dashboard-is-not-the-cli',
      comment:
        'The dashboard and the CLI both read runs through runs/ and temporal/; neither imports the other.',
      severity: 'error',
      from: { path: '^src/dashboard/' },
      to: { path: '^src/(client\\.ts|worker\\.ts|cli/|worker/|demo/)' },
    },
    {
      name: 'worker-is-not-the-cli',
      comment:
        'The worker process imports the workflows and activities it serves, not the CLI or the dashboard.',
      severity: 'error',
      from: { path: '^src/(worker\\.ts|worker/)' },
      to: { path: '^src/(client\\.ts|cli/|dashboard/|demo/)' },
    },
    {
      name: 'only-the-process-runs-the-program',
      comment: "client.ts is the CLI's program; cli/main.ts, the process, is the one module that imports it.",
      severity: 'error',
      from: { pathNot: '^src/cli/main\\.ts$' },
      to: { path: '^src/client\\.ts$' },
    },
    {
      name: 'production-code-needs-no-dev-dependency',
      comment: '`npm ci --omit=dev` (the image) has no dev dependency: src/ must run without them.',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'production-code-imports-no-tooling',
      comment: 'Tests, benchmarks, scripts and the local stack use src/, never the other way round.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|scripts|stack|bin)/' },
    },
  ],
  options: {
    // Type-only imports count: they are how a floor leans on another's shape.
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    // Resolve packages as Node does for this CommonJS project, through their "exports" maps.
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['require', 'node', 'default'] },
  },
};
