#!/usr/bin/env node
// What the contract's job per stream costs by itself: BullMQ alone, with the product's job
// options, nothing else. A producer adds N jobs (one `add` each, spread over one second, as
// the bench's send burst), a worker process takes them (concurrency N + 50, as the bench's)
// and completes each after `--hold-ms` without doing anything, and a third process reads
// the `completed` events (as the notification listener does). Prints the CPU each process
// and Redis spent per job: the part of a send's cost no change to our code can remove
// while a stream is a BullMQ job.
//
//   node bench/queue-floor.mjs [--jobs 500] [--hold-ms 3000] [--rounds 3]
//
// `--hold-ms` longer than the burst keeps every completion out of the "until every job is
// taken" columns: what stands between a send and its first token.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDependencies } from '../scripts/lib/bootstrap.mjs';
import { cpuSeconds } from './lib/proc.mjs';
import { ensureRedis, stopRedis } from '../scripts/lib/services.mjs';

if (!process.env.FLOOR_ROLE) ensureDependencies(); // a fresh clone: npm ci first
const require = createRequire(import.meta.url);
const { Queue, Worker, QueueEvents } = require('bullmq');
const IORedis = require('ioredis');

const QUEUE = 'floor';
const flag = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const cpuMs = (since) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};
const connection = (url) => new IORedis(url, { maxRetriesPerRequest: null });

// --- child roles -----------------------------------------------------------------------
const role = process.env.FLOOR_ROLE;
if (role) {
  const url = process.env.FLOOR_REDIS;
  const jobs = Number(process.env.FLOOR_JOBS);
  // Counted from `ready` on: loading the modules and connecting are not a job's cost.
  let started;
  if (role === 'worker') {
    const holdMs = Number(process.env.FLOOR_HOLD_MS);
    let taken = 0;
    const worker = new Worker(
      QUEUE,
      () => {
        // Every job taken: what starting them cost, before any of them completes.
        if (++taken === jobs) process.send({ startCpuMs: cpuMs(started) });
        return new Promise((resolve) => setTimeout(() => resolve({ status: 'complete' }), holdMs));
      },
      { connection: connection(url), concurrency: jobs + 50, lockDuration: 30_000, stalledInterval: 30_000, maxStalledCount: 1 },
    );
    let done = 0;
    worker.on('completed', () => ++done === jobs && finish(() => worker.close()));
    await worker.waitUntilReady();
  } else {
    const events = new QueueEvents(QUEUE, { connection: connection(url) });
    let done = 0;
    events.on('completed', () => ++done === jobs && finish(() => events.close()));
    // Asked when every job is taken: what reading the events of the start cost.
    process.on('message', (m) => m === 'cpu?' && process.send({ startCpuMs: cpuMs(started) }));
    await events.waitUntilReady();
  }
  started = process.cpuUsage();
  process.send('ready');
  async function finish(close) {
    const ms = cpuMs(started);
    await close();
    process.send({ cpuMs: ms });
    process.exit(0);
  }
} else {
  await main();
}

// --- the run ---------------------------------------------------------------------------
/** A child role; `ready`, then its messages in order (the worker's start figure, then its total). */
function child(name, env) {
  const proc = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, FLOOR_ROLE: name, ...env } });
  const messages = [];
  const waiting = [];
  proc.on('message', (m) => (waiting.length ? waiting.shift()(m) : messages.push(m)));
  const next = () => (messages.length ? Promise.resolve(messages.shift()) : new Promise((resolve) => waiting.push(resolve)));
  return { ready: next(), next, ask: (m) => (proc.send(m), next()) };
}

async function round(url, redisPid, jobs, holdMs) {
  const redisCpuMs = () => cpuSeconds(redisPid) * 1000;
  const queueConnection = connection(url);
  await queueConnection.flushall();
  const env = { FLOOR_REDIS: url, FLOOR_JOBS: String(jobs), FLOOR_HOLD_MS: String(holdMs) };
  const worker = child('worker', env);
  const listener = child('listener', env);
  await Promise.all([worker.ready, listener.ready]);
  // The product's job options and defaults (libs/server/src/queue/generation-queue.ts, libs/shared/src/config.ts).
  const queue = new Queue(QUEUE, {
    connection: queueConnection,
    streams: { events: { maxLen: 10_000 } },
    defaultJobOptions: { attempts: 3, backoff: { type: 'exponential', delay: 1_000 }, removeOnComplete: { age: 3_600, count: 10_000 }, removeOnFail: { age: 86_400, count: 10_000 } },
  });
  await queue.waitUntilReady();
  const redisBefore = redisCpuMs();
  const producerStart = process.cpuUsage();
  const t0 = Date.now();
  const adds = [];
  for (let i = 0; i < jobs; i++) {
    const due = t0 + (i * 1000) / jobs;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    const streamId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    adds.push(queue.add('generate', { streamId, threadId: streamId, userId: 'floor-user', messageId: streamId }, { jobId: streamId }));
  }
  await Promise.all(adds);
  const producerMs = cpuMs(producerStart);
  const taken = await worker.next();
  const startWallMs = Date.now() - t0;
  const redisStartMs = redisCpuMs() - redisBefore;
  const listenerStarted = await listener.ask('cpu?');
  const [w, l] = await Promise.all([worker.next(), listener.next()]);
  const redisMs = redisCpuMs() - redisBefore;
  await queue.close();
  await queueConnection.quit();
  return {
    start: { producer: producerMs / jobs, worker: taken.startCpuMs / jobs, listener: listenerStarted.startCpuMs / jobs, redis: redisStartMs / jobs, wallMs: startWallMs },
    life: { producer: producerMs / jobs, worker: w.cpuMs / jobs, listener: l.cpuMs / jobs, redis: redisMs / jobs },
  };
}

async function main() {
  const jobs = flag('jobs', 500);
  const holdMs = flag('hold-ms', 3000);
  const rounds = flag('rounds', 3);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'queue-floor-'));
  const { url } = await ensureRedis(dir, () => undefined);
  const redisPid = Number(readFileSync(path.join(dir, 'redis.pid'), 'utf8'));
  try {
    console.log(`BullMQ alone: ${jobs} jobs added within 1 s, each held ${holdMs} ms by a no-op processor; CPU ms per job`);
    console.log('       until every job is taken                     whole life of a job');
    console.log('round  producer worker listener redis  sum  wall    producer worker listener redis  sum');
    const all = [];
    const sum = (x) => Object.entries(x).filter(([k]) => k !== 'wallMs').reduce((t, [, v]) => t + v, 0);
    const f = (v, w) => v.toFixed(2).padStart(w);
    const line = (label, { start: a, life: b }) =>
      console.log(
        `${label.padEnd(6)} ${f(a.producer, 8)} ${f(a.worker, 6)} ${f(a.listener, 8)} ${f(a.redis, 5)} ${f(sum(a), 4)} ${String(a.wallMs ?? '').padStart(5)}   ` +
          `${f(b.producer, 8)} ${f(b.worker, 6)} ${f(b.listener, 8)} ${f(b.redis, 5)} ${f(sum(b), 4)}`,
      );
    for (let r = 1; r <= rounds; r++) {
      const x = await round(url, redisPid, jobs, holdMs);
      all.push(x);
      line(String(r), x);
    }
    const mean = (part) => Object.fromEntries(Object.keys(all[0][part]).filter((k) => k !== 'wallMs').map((k) => [k, all.reduce((t, x) => t + x[part][k], 0) / all.length]));
    line('mean', { start: mean('start'), life: mean('life') });
  } finally {
    stopRedis(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}
