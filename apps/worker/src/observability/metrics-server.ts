import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/**
 * The worker has no HTTP API; this serves its registry at `GET /metrics` (and a
 * `/healthz`) on METRICS_PORT so Prometheus scrapes each worker like each API instance.
 */
export class MetricsServer {
  private readonly server: http.Server;
  private closed: Promise<void> | null = null;

  constructor(private readonly registry: Registry) {
    this.server = http.createServer((req, res) => void this.answer(req, res));
  }

  /** Listens and returns the port (the one the OS chose when `port` is 0). */
  async listen(port: number, host: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => (this.server.off('error', reject), resolve()));
    });
    return (this.server.address() as AddressInfo).port;
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    if (req.method !== 'GET' && req.method !== 'HEAD') return void json(404, { error: { code: 'not_found', message: `no route ${req.method} ${path}` } });
    if (path === '/healthz') return void json(200, { status: 'ok' });
    if (path !== '/metrics') return void json(404, { error: { code: 'not_found', message: `no route ${req.method} ${path}` } });
    try {
      const text = await this.registry.metrics();
      res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text);
    } catch (err) {
      json(500, { error: { code: 'internal', message: (err as Error).message } });
    }
  }

  /** Safe to call twice. */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closed;
  }
}
