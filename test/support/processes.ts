import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const LOG_DIR = path.join(ROOT, 'test-output', 'logs');

export type LogLine = Record<string, unknown> & { msg?: string };

/**
 * A real API or worker process (the built bundle), its JSON log lines kept in memory
 * and in test-output/logs, with helpers to wait for a line instead of sleeping.
 */
export class ManagedProcess {
  readonly lines: LogLine[] = [];
  private readonly waiters = new Set<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  readonly exited: Promise<number | null>;
  /** Set by stop() and kill(): an exit the test asked for. */
  private stopping = false;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    fs.mkdirSync(LOG_DIR, { recursive: true });
    const file = fs.createWriteStream(path.join(LOG_DIR, `${name}-${child.pid}.log`));
    let buffered = '';
    const onData = (chunk: Buffer) => {
      file.write(chunk);
      buffered += chunk.toString('utf8');
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          line = { msg: text };
        }
        this.lines.push(line);
        for (const w of [...this.waiters]) if (w.match(line)) (this.waiters.delete(w), w.resolve(line));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => child.once('exit', (code) => (file.end(), resolve(code))));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Ended with an error (an uncaught exception exits with 1) or by a signal, not through
   * stop() or kill(): a crash the test may only see as a symptom ("no frame within…").
   */
  get crashed(): boolean {
    return !this.stopping && !this.running && this.child.exitCode !== 0;
  }

  /** The last `n` log lines, for an error message. */
  lastLines(n = 8): string {
    return this.lines.slice(-n).map((l) => JSON.stringify(l)).join('\n');
  }

  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(match: (l: LogLine) => boolean, timeoutMs = 15_000, what = 'log line'): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (l: LogLine) => (clearTimeout(timer), resolve(l)) };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms; last lines:\n${this.lastLines()}`));
      }, timeoutMs);
      this.waiters.add(waiter);
      this.exited.then((code) => {
        if (!this.waiters.has(waiter)) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code}) before ${what}; last lines:\n${this.lastLines()}`));
      });
    });
  }

  /** SIGTERM (graceful) and wait for exit. */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    this.stopping = true;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** SIGKILL: a crash, nothing cleaned up. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

export function spawnBundle(name: string, bundle: 'api' | 'worker', env: Record<string, string>): ManagedProcess {
  const child = spawn(process.execPath, ['--enable-source-maps', path.join(ROOT, 'dist', bundle, 'main.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new ManagedProcess(name, child);
}
