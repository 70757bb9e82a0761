#!/usr/bin/env node
// The `pothole` CLI. Where tsx is installed (a development checkout: it is a dev dependency), it runs the TypeScript
// sources, so there is no build step to forget. Without it (`npm ci --omit=dev`), it runs the compiled entry of
// `npm run build`, as the image does: `node dist/cli/main.js`.
const path = require('node:path');

function resolves(request) {
  try {
    require.resolve(request);
    return true;
  } catch {
    return false;
  }
}

if (resolves('tsx/cjs')) {
  require('tsx/cjs');
  require('../src/cli/main.ts');
} else if (resolves('../dist/cli/main.js')) {
  require('../dist/cli/main.js');
} else {
  console.error(
    `pothole: neither tsx (a dev dependency: npm ci) nor the compiled ${path.join('dist', 'cli', 'main.js')} ` +
      '(npm run build) is here',
  );
  process.exit(2);
}
