#!/usr/bin/env node
// The `pothole` CLI. Runs the TypeScript sources directly through tsx, so there is no build step to forget.

// With TLS to an IP address (TEMPORAL_ADDRESS=10.0.0.5:7233), grpc-js gives the address as the TLS server name and
// Node warns (DEP0123) that it will stop sending it; the server's certificate is checked against the address
// either way, so the warning only adds a confusing line to every command's output.
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  const code = typeof rest[0] === 'object' ? rest[0]?.code : rest[1];
  if (code === 'DEP0123') return;
  return emitWarning.call(this, warning, ...rest);
};

require('tsx/cjs');
require('../src/client.ts')
  .main(process.argv)
  .then((code) => process.exit(code));
