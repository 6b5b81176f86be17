import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const LOG_DIR = path.resolve(__dirname, '..', '..', 'test-output', 'logs');

/** A port the kernel says is free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A redis-server of one fault test's own, as production runs it for BullMQ (AOF with
 * fsync on every write, `noeviction`, no RDB snapshots), in a temp dir. It can be
 * stopped (gracefully or by SIGKILL) and started again on the same port and data, so
 * the processes under test reconnect to the same address.
 */
export class RedisServer {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<RedisServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bgs-fault-redis-'));
    const server = new RedisServer(await freePort(), dir);
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Starts redis-server on the same port and dir (after a stop); resolves once it accepts commands. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('redis-server is already running');
    const child = spawn(
      'redis-server',
      [
        '--bind', '127.0.0.1', '--port', String(this.port), '--dir', this.dir,
        '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction', '--save', '',
        '--logfile', '', '--daemonize', 'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    fs.mkdirSync(LOG_DIR, { recursive: true });
    const log = fs.createWriteStream(path.join(LOG_DIR, `redis-${this.port}.log`), { flags: 'a' });
    this.exited = new Promise((resolve) => child.once('exit', () => (log.end(), resolve())));
    await untilRedisReady(child, log, `redis-server on ${this.port}`).catch((err: Error) => {
      this.child = null;
      throw err;
    });
  }

  /** SIGTERM (a clean shutdown) or SIGKILL (a crash: only what AOF fsynced survives). */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    await this.exited;
    this.child = null;
  }

  /** Stops it for good and removes its data. */
  async close(): Promise<void> {
    await this.stop('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Resolves once a redis-server just spawned serves commands (it prints "Ready to accept
 * connections" once its AOF is loaded); rejects, killing it, if it exits first or takes
 * more than 15 s. Its output goes to `log` all along.
 */
export function untilRedisReady(child: ChildProcess, log: fs.WriteStream, what: string): Promise<void> {
  let output = '';
  let ready = false;
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      if (err) (child.kill('SIGKILL'), reject(err));
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`${what} did not start within 15 s:\n${output.slice(-2000)}`)), 15_000);
    const onExit = (code: number | null) => done(new Error(`${what} exited (${code}) while starting:\n${output.slice(-2000)}`));
    child.once('exit', onExit);
    child.stdout?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      if (ready) return;
      output += chunk.toString('utf8');
      if (output.includes('Ready to accept connections')) {
        ready = true;
        done();
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
  });
}
