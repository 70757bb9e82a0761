/**
 * A pass-through HTTP proxy in front of the AWS emulator that records every EC2 action it forwards, and can hold
 * a response back (the request itself is forwarded at once, as a slow AWS would have processed it already).
 * The worker under test is pointed at it with AWS_ENDPOINT_URL; the emulator behind it stays the real one.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  action: string;
  at: number;
  instanceIds: string[];
}

export class AwsRecorder {
  calls: RecordedCall[] = [];
  /** Actions whose responses are held this many milliseconds. */
  holdResponses = new Map<string, number>();
  private server?: http.Server;

  constructor(private readonly target: string) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  actions(since = 0): string[] {
    return this.calls.filter((c) => c.at >= since).map((c) => c.action);
  }

  private port = 0;

  /** Starts the proxy (on the port it had before, after an outage). */
  async start(): Promise<void> {
    if (this.server?.listening) return;
    const target = new URL(this.target);
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const form = new URLSearchParams(body.toString('utf8'));
        const action = form.get('Action');
        let hold = 0;
        if (action) {
          const instanceIds = [...form.entries()]
            .filter(([k]) => k.startsWith('InstanceId'))
            .map(([, v]) => v);
          this.calls.push({ action, at: Date.now(), instanceIds });
          hold = this.holdResponses.get(action) ?? 0;
        }
        const upstream = http.request(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: target.host },
          },
          (up) => {
            const out: Buffer[] = [];
            up.on('data', (c: Buffer) => out.push(c));
            up.on('end', () =>
              setTimeout(() => {
                res.writeHead(up.statusCode ?? 502, up.headers);
                res.end(Buffer.concat(out));
              }, hold),
            );
          },
        );
        upstream.on('error', (err) => {
          res.writeHead(502);
          res.end(String(err));
        });
        upstream.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /**
   * A network outage between the worker and EC2: open connections are cut and new ones refused until
   * `start()` listens on the same port again.
   */
  async outage(): Promise<void> {
    await this.stop();
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
