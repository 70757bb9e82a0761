/**
 * The `pothole` command as a process: bin/pothole.js runs it from the sources through tsx (development, tests),
 * the image runs its build (`node dist/cli/main.js`, after `npm run build`).
 */
import { main } from '../client';

// With TLS to an IP address (TEMPORAL_ADDRESS=10.0.0.5:7233), grpc-js gives the address as the TLS server name and
// Node warns (DEP0123) that it will stop sending it; the server's certificate is checked against the address
// either way, so the warning only adds a confusing line to every command's output.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const code = typeof rest[0] === 'object' ? (rest[0] as { code?: string } | null)?.code : rest[1];
  if (code !== 'DEP0123') emitWarning(warning, ...rest);
}) as typeof process.emitWarning;

void main(process.argv).then((code) => process.exit(code));
