// The processes a benchmark run starts: spawned with their output in a log file, ready
// when a log line says so, stopped with SIGTERM (SIGKILL after a grace period).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { inspectorUrlIn } from './inspector.mjs';

const started = new Set();

/**
 * Spawns `node args…`; resolves once a JSON log line matches `ready` (its line is returned
 * as `readyLine`). stdout/stderr go to `logFile`. With `ipc`, the child gets a channel.
 */
export function startProcess({ name, args, env, logFile, ready, ipc = false, timeoutMs = 30_000 }) {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const out = fs.createWriteStream(logFile);
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? ['ipc'] : [])] });
  const proc = { name, child, pid: child.pid, readyLine: null, exited: new Promise((r) => child.once('exit', (code, signal) => r(signal ?? code))) };
  started.add(proc);
  void proc.exited.then(() => started.delete(proc));
  let buffered = '';
  let onLine = null;
  const feed = (chunk) => {
    out.write(chunk);
    if (!proc.inspectorUrl) proc.inspectorUrl = inspectorUrlIn(chunk.toString('utf8'));
    if (!onLine) return;
    buffered += chunk.toString('utf8');
    let nl;
    while (onLine && (nl = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let line;
      try {
        line = JSON.parse(text);
      } catch {
        line = { msg: text };
      }
      onLine(line);
    }
  };
  child.stdout.on('data', feed);
  child.stderr.on('data', feed);
  void proc.exited.then(() => out.end());
  if (!ready) return Promise.resolve(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${name} was not ready within ${timeoutMs} ms; see ${logFile}`)), timeoutMs);
    const fail = (err) => {
      clearTimeout(timer);
      onLine = null;
      reject(err);
    };
    onLine = (line) => {
      if (!ready(line)) return;
      clearTimeout(timer);
      onLine = null;
      buffered = '';
      proc.readyLine = line;
      resolve(proc);
    };
    void proc.exited.then((how) => fail(new Error(`${name} exited (${how}) before it was ready; see ${logFile}`)));
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopProcess(proc, graceMs = 15_000) {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
  await proc.exited;
  clearTimeout(timer);
}

/** Every process this run started and that is still running (for Ctrl-C). */
export function stopAll(graceMs = 5_000) {
  return Promise.all([...started].map((p) => stopProcess(p, graceMs)));
}
