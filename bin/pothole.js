#!/usr/bin/env node
// The `pothole` CLI. Runs the TypeScript sources directly through tsx, so there is no build step to forget.
require('tsx/cjs');
require('../src/client.ts')
  .main(process.argv)
  .then((code) => process.exit(code));
