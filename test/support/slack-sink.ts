/** A local stand-in for a Slack incoming webhook: an HTTP server that keeps every payload posted to it. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export class SlackSink {
  messages: { text: string; at: number }[] = [];
  private server?: http.Server;

  /** The webhook URL; `secretPath` lets a test plant a distinctive value in it. */
  url(secretPath = 'hook'): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/services/${secretPath}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { text?: string };
        this.messages.push({ text: body.text ?? '', at: Date.now() });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
