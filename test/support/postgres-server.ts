import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { applyMigrations } from '@bgs/server';
import { freePort } from './redis-server';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const BIN = '/usr/lib/postgresql/15/bin';
const LOG_DIR = path.join(ROOT, 'test-output', 'logs');
const isRoot = process.getuid?.() === 0;

/** initdb and postgres refuse root: as root, run them as Debian's `postgres` user. */
function asPostgres(binary: string, args: string[]) {
  const [cmd, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', path.join(BIN, binary), ...args]] : [path.join(BIN, binary), args];
  return run(cmd, argv, { encoding: 'utf8', timeout: 90_000 });
}

/**
 * A throwaway Postgres 15 cluster of one fault test's own, on 127.0.0.1 and a free
 * port, with one migrated database. It can be stopped (`fast` or `immediate`, the
 * latter a crash) and started again on the same port and data.
 */
export class PostgresServer {
  private up = false;

  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly database: string,
  ) {}

  /** initdb (a few seconds), start, create the database and apply the committed migrations. */
  static async start(database = 'bgs_fault'): Promise<PostgresServer> {
    // Under /tmp (sticky, world-searchable) so the postgres user reaches it even when the repo is under /root.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bgs-fault-pg-'));
    fs.mkdirSync(path.join(dir, 'sock'));
    if (isRoot) await run('chown', ['-R', 'postgres:postgres', dir]);
    const server = new PostgresServer(await freePort(), dir, database);
    await asPostgres('initdb', ['-D', server.pgdata, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions', '--no-sync']);
    await server.restart();
    const admin = new Client({ connectionString: server.urlFor('postgres') });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${database}"`);
    } finally {
      await admin.end();
    }
    await applyMigrations(server.url, path.join(ROOT, 'prisma', 'migrations'));
    return server;
  }

  private get pgdata(): string {
    return path.join(this.dir, 'data');
  }

  get running(): boolean {
    return this.up;
  }

  /** The migrated database's URL. */
  get url(): string {
    return this.urlFor(this.database);
  }

  urlFor(database: string): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Starts the cluster on the same port and data; resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.up) throw new Error('postgres is already running');
    fs.mkdirSync(LOG_DIR, { recursive: true });
    const logFile = path.join(this.dir, 'postgres.log');
    const options = [
      '-c listen_addresses=127.0.0.1', `-p ${this.port}`, `-k ${path.join(this.dir, 'sock')}`,
      '-c max_connections=200', '-c fsync=off', '-c full_page_writes=off',
    ].join(' ');
    try {
      await asPostgres('pg_ctl', ['start', '-D', this.pgdata, '-l', logFile, '-o', options, '-w', '-t', '60']);
    } catch (err) {
      const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : '';
      throw new Error(`postgres did not start on ${this.port}: ${(err as Error).message}\n${log}`);
    }
    this.up = true;
  }

  /** `fast`: a clean shutdown that disconnects every client; `immediate`: a crash (recovery on the next start). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!this.up) return;
    await asPostgres('pg_ctl', ['stop', '-D', this.pgdata, '-m', mode, '-w', '-t', '60']);
    this.up = false;
  }

  /** Stops it for good, keeps its log in test-output/logs and removes the cluster. */
  async close(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    const logFile = path.join(this.dir, 'postgres.log');
    if (fs.existsSync(logFile)) fs.copyFileSync(logFile, path.join(LOG_DIR, `postgres-${this.port}.log`));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
