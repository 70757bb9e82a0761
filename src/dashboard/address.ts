/**
 * The dashboard's own address: where a state change may come from. A DNS-rebinding page reaches the dashboard at
 * its IP under a foreign name, so its requests carry a foreign Origin and Host; those are refused.
 */
import os from 'node:os';
import { isLoopbackHost } from '../config/loopback';

const isWildcard = (host: string) => ['0.0.0.0', '::', ''].includes(host);
const withPort = (name: string, port: number) => `${name.includes(':') ? `[${name}]` : name}:${port}`;

export interface OwnAddress {
  /** Origins a browser sends from the dashboard's own page, e.g. http://127.0.0.1:8501. */
  origins: Set<string>;
  /** Host headers of requests to the dashboard's own address, lower case. */
  hosts: Set<string>;
}

/**
 * DASHBOARD_PUBLIC_URL when set; otherwise the bind address at the port listened on (names of this machine's
 * interfaces and localhost for a wildcard bind, localhost beside a loopback one).
 */
export function ownAddress(publicUrl: string | undefined, bind: string, port: number): OwnAddress {
  const bindHost = bind.replace(/^\[|\]$/g, '');
  if (publicUrl) {
    const url = new URL(publicUrl);
    return { origins: new Set([url.origin]), hosts: new Set([url.host]) };
  }
  const names = isWildcard(bindHost)
    ? [
        'localhost',
        ...Object.values(os.networkInterfaces())
          .flat()
          .map((i) => i?.address ?? ''),
      ]
    : isLoopbackHost(bindHost)
      ? [bindHost, 'localhost']
      : [bindHost];
  const hosts = [...new Set(names.filter(Boolean).map((n) => withPort(n, port).toLowerCase()))];
  return { origins: new Set(hosts.map((h) => `http://${h}`)), hosts: new Set(hosts) };
}
