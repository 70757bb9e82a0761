#!/usr/bin/env node
// The `pothole` CLI from the TypeScript sources, through tsx: no build step to forget while developing. The image
// (and any host with `npm run build` done) runs the compiled entry instead: `node dist/cli/main.js`.
require('tsx/cjs');
require('../src/cli/main.ts');
