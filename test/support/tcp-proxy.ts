/**
 * A TCP proxy on a loopback port to host:port, which a test cuts (open connections dropped, new ones refused) and
 * restores on the same port: a blocked port or a network outage between one client and its server, while
 * everything else still reaches the server directly.
 */
import net from 'node:net';

export interface TcpProxy {
  /** host:port of the proxy. */
  address: string;
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
}

export async function startTcpProxy(host: string, port: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const own = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${own}`,
    port: own,
    cut: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
    restore: () => new Promise<void>((r) => server.listen(own, '127.0.0.1', r)),
  };
}
