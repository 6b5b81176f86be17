import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

/** Small local servers (127.0.0.1 only) that stand between a client and the API, or in for it. */

async function listen(server: net.Server | http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

type Waiter = { check: () => boolean };

/** Counters a test can wait on (`until`), instead of sleeping. */
class Counters {
  private readonly waiters = new Set<Waiter>();

  protected changed(): void {
    for (const w of [...this.waiters]) w.check();
  }

  /** Resolves once `match` holds (now or after a later change). */
  until(match: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check: () => {
          if (!match()) return false;
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
          return true;
        },
      };
      const timer = setTimeout(() => (this.waiters.delete(waiter), reject(new Error(`no ${what} within ${timeoutMs} ms`))), timeoutMs);
      if (!waiter.check()) this.waiters.add(waiter);
    });
  }
}

/**
 * An HTTP proxy like a corporate one that forwards plain HTTP but refuses WebSocket
 * upgrades (403). Everything else goes to `target` as it came.
 */
export class UpgradeRefusingProxy extends Counters {
  /** Upgrade requests refused, by path + query. */
  readonly refusedUpgrades: string[] = [];
  /** Plain HTTP requests forwarded, `METHOD path?query`. */
  readonly forwarded: string[] = [];
  private readonly agent = new http.Agent({ keepAlive: true });
  private server!: http.Server;
  url = '';

  private constructor(private readonly target: URL) {
    super();
  }

  static async start(target: string): Promise<UpgradeRefusingProxy> {
    const proxy = new UpgradeRefusingProxy(new URL(target));
    proxy.server = http.createServer((req, res) => proxy.forward(req, res));
    proxy.server.on('upgrade', (req, socket) => {
      socket.on('error', () => socket.destroy());
      proxy.refusedUpgrades.push(req.url ?? '');
      proxy.changed();
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 22\r\nConnection: close\r\n\r\nWebSockets not allowed');
    });
    proxy.url = await listen(proxy.server);
    return proxy;
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.forwarded.push(`${req.method} ${req.url}`);
    this.changed();
    const upstream = http.request(
      { host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: { ...req.headers, host: this.target.host }, agent: this.agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    // A client that goes away mid-request (a closed long-poll) resets its socket: not an error here.
    req.on('error', () => upstream.destroy());
    res.on('error', () => upstream.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  }

  /** Long-polling requests of socket.io that went through. */
  get pollingRequests(): string[] {
    return this.forwarded.filter((r) => r.includes('/socket.io/') && r.includes('transport=polling'));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
  }
}

/**
 * A static host with no API behind it: every path answers as `kind` says. `404`: a 404
 * HTML page (GitHub Pages, S3); `spa`: 200 with the page's HTML (a single-page-app
 * fallback); `json`: 200 JSON that is not this API's.
 */
export class StaticHost extends Counters {
  readonly requests: string[] = [];
  readonly upgrades: string[] = [];
  private server!: http.Server;
  url = '';

  private constructor(private readonly kind: '404' | 'spa' | 'json') {
    super();
  }

  static async start(kind: '404' | 'spa' | 'json'): Promise<StaticHost> {
    const host = new StaticHost(kind);
    host.server = http.createServer((req, res) => {
      host.requests.push(`${req.method} ${req.url}`);
      host.changed();
      req.on('error', () => undefined);
      req.resume();
      if (host.kind === '404') res.writeHead(404, { 'content-type': 'text/html' }).end('<!doctype html><title>404</title><h1>Page not found</h1>');
      else if (host.kind === 'spa') res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Chat</title><div id="app"></div>');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    });
    host.server.on('upgrade', (req, socket) => {
      socket.on('error', () => undefined);
      host.upgrades.push(req.url ?? '');
      socket.destroy();
    });
    host.url = await listen(host.server);
    return host;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A TCP proxy in front of `target` that can hold new connections: accepted, but not
 * forwarded until `release()` (a network path that is slow to come back). Connections
 * already forwarded are not touched.
 */
export class HoldingProxy extends Counters {
  /** Connections accepted so far. */
  connections = 0;
  private holding = false;
  private readonly held: net.Socket[] = [];
  private readonly open = new Set<net.Socket>();
  private server!: net.Server;
  url = '';

  private constructor(private readonly target: URL) {
    super();
  }

  static async start(target: string): Promise<HoldingProxy> {
    const proxy = new HoldingProxy(new URL(target));
    proxy.server = net.createServer((client) => {
      proxy.connections++;
      client.on('error', () => client.destroy());
      proxy.open.add(client);
      client.on('close', () => proxy.open.delete(client));
      if (proxy.holding) {
        client.pause();
        proxy.held.push(client);
      } else proxy.pipe(client);
      proxy.changed();
    });
    proxy.url = await listen(proxy.server);
    return proxy;
  }

  private pipe(client: net.Socket): void {
    if (client.destroyed) return;
    const upstream = net.connect(Number(this.target.port), this.target.hostname);
    this.open.add(upstream);
    const drop = () => {
      for (const s of [client, upstream]) (s.destroy(), this.open.delete(s));
    };
    upstream.on('error', drop);
    upstream.on('close', drop);
    client.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }

  /** New connections wait until `release()`. */
  hold(): void {
    this.holding = true;
  }

  /** Forwards the held connections and every new one. */
  release(): void {
    this.holding = false;
    for (const client of this.held.splice(0)) this.pipe(client);
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A TCP proxy in front of a Redis server that freezes the moment its client sends a
 * `notification.created` push: once a PUBLISH or SPUBLISH command whose message carries
 * that event name is seen in the client→server bytes, that command and everything after it,
 * in both directions and on every connection (new ones too), is held and never forwarded.
 * The process behind it has committed the notification and is stuck before Redis ever saw
 * the push: a crash between commit and push, made deterministic.
 */
export class PushFreezingProxy extends Counters {
  /** Set once the push was seen: the command name and the connection it came on. */
  frozen: { command: string; connection: number } | null = null;
  /** Bytes held since the freeze, client→server and server→client. */
  heldBytes = 0;
  private connections = 0;
  private readonly open = new Set<net.Socket>();
  private server!: net.Server;
  url = '';

  private static readonly EVENT = Buffer.from('notification.created', 'latin1');
  /** RESP command headers (`*3\r\n$7\r\npublish\r\n`): the name of each command in a window. */
  private static readonly COMMAND = /\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n/g;
  /** How much of the client's stream is kept to see a command split across reads. */
  private static readonly WINDOW = 64 * 1024;

  private constructor(private readonly target: URL) {
    super();
  }

  static async start(redisUrl: string): Promise<PushFreezingProxy> {
    const proxy = new PushFreezingProxy(new URL(redisUrl));
    proxy.server = net.createServer((client) => proxy.pipe(client));
    const http = await listen(proxy.server);
    proxy.url = http.replace(/^http:/, 'redis:');
    return proxy;
  }

  private pipe(client: net.Socket): void {
    const id = ++this.connections;
    const upstream = net.connect(Number(this.target.port), this.target.hostname);
    for (const s of [client, upstream]) {
      this.open.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => {
        this.open.delete(s);
        // A client that goes away (killed) closes its upstream; a frozen one stays silent.
        if (s === client) upstream.destroy();
        else if (!this.frozen) client.destroy();
      });
    }
    let tail = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      if (this.frozen) return void (this.heldBytes += chunk.length);
      const window = Buffer.concat([tail, chunk]);
      const command = PushFreezingProxy.pushIn(window, tail.length);
      if (command) {
        this.frozen = { command, connection: id };
        this.heldBytes += chunk.length;
        this.changed();
        return;
      }
      tail = window.subarray(Math.max(0, window.length - PushFreezingProxy.WINDOW));
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (this.frozen) return void (this.heldBytes += chunk.length);
      client.write(chunk);
    });
  }

  /**
   * `PUBLISH`/`SPUBLISH` when the window holds the event name ending in its new part
   * (past `seen`), inside a command of that name; null otherwise.
   */
  private static pushIn(window: Buffer, seen: number): string | null {
    const at = window.indexOf(PushFreezingProxy.EVENT, Math.max(0, seen - PushFreezingProxy.EVENT.length + 1));
    if (at < 0) return null;
    const before = window.subarray(0, at).toString('latin1');
    let name: string | null = null;
    for (const m of before.matchAll(PushFreezingProxy.COMMAND)) name = m[1].toUpperCase();
    return name === 'PUBLISH' || name === 'SPUBLISH' ? name : null;
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
