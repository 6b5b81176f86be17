// `npm run bench`: the fan-out path measured against its peers, on this machine.
// Starts its own Redis (.data/redis-bench, fresh) and database (bench_<ts> on the local
// Postgres), then runs the same workload through each path in turn, each with its own
// processes and a load driver process (bench/driver.mjs):
//   ours       API + 1 worker from dist/ (frames, one Lua round trip each, socket.io fan-out);
//   naive      bench/naive-server.mjs: one emit and one UPDATE per token;
//   resumable  bench/resumable-producer.mjs + bench/resumable-api.mjs: resumable-stream 2.2.13.
// Prints one markdown table (also bench/results/latest.md, raw figures in latest.json).
//
// Flags: --streams N --rate R --tokens T --frame-ms F --switches S --baselines naive,resumable|none
//        --threads-per-user K --open-rate Q --probe-sockets P --monitor-ms M --quiet-wait SECONDS
//        --send-window-ms W (every message of the run is sent within W ms, evenly spaced)
//        --quick --keep-db --no-build --profile (CPU profiles of our API and worker)
//        --redis-cluster (ours runs on a fresh local Redis Cluster, 3 masters + 3 replicas, under
//        .data/redis-cluster-bench; the baselines keep the one Redis. Its Redis CPU is summed over
//        the 6 nodes, its Redis commands over the 3 masters: a replica counts again every write
//        it replays, which one Redis would not have done)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { build, ensureDependencies, ensurePrismaClient, migrate, repoRoot } from './lib/bootstrap.mjs';
import { ensureDatabase, ensurePostgres, ensureRedis, stopRedis } from './lib/services.mjs';
import { startRedisCluster } from './lib/redis-cluster.mjs';
import { cpuSeconds, machineCpu, postgresPids, rssBytes } from '../bench/lib/proc.mjs';
import { startProcess, stopAll, stopProcess } from '../bench/lib/processes.mjs';
import { commandStats, monitorSample, presenceEntries } from '../bench/lib/redis-stats.mjs';
import { enableStatements, resetStatements, statements } from '../bench/lib/pg-stats.mjs';
import { renderReport } from '../bench/lib/report.mjs';
import { summarizeProfile } from '../bench/lib/profile.mjs';
import { heapAfterGc } from '../bench/lib/inspector.mjs';
import { fmt, summarize } from '../bench/lib/stats.mjs';

const runLog = [];
const log = (m) => {
  console.log(`[bench] ${m}`);
  runLog.push(m);
};
const benchDir = path.join(repoRoot, 'bench');
const resultsDir = path.join(benchDir, 'results');
const logDir = path.join(resultsDir, 'logs');
const redisDir = path.join(repoRoot, '.data', 'redis-bench');
const redisClusterDir = path.join(repoRoot, '.data', 'redis-cluster-bench');
const PREFIX = 'bench';

// ---- flags ---------------------------------------------------------------------------------

function parseFlags(argv) {
  const quick = argv.includes('--quick');
  const defaults = quick
    ? { streams: 50, rate: 30, tokens: 60, frameMs: 50, switches: 500, threadsPerUser: 10, openRate: 10, probeSockets: 5, monitorMs: 500 }
    : { streams: 500, rate: 30, tokens: 300, frameMs: 50, switches: 10_000, threadsPerUser: 10, openRate: 20, probeSockets: 10, monitorMs: 1000 };
  const names = {
    '--streams': 'streams', '--rate': 'rate', '--tokens': 'tokens', '--frame-ms': 'frameMs', '--switches': 'switches',
    '--threads-per-user': 'threadsPerUser', '--open-rate': 'openRate', '--probe-sockets': 'probeSockets', '--monitor-ms': 'monitorMs',
    '--quiet-wait': 'quietWait', '--send-window-ms': 'sendWindowMs',
  };
  const flags = { ...defaults, quietWait: 60, sendWindowMs: 1000, quick, keepDb: argv.includes('--keep-db'), noBuild: argv.includes('--no-build'), profile: argv.includes('--profile'), redisCluster: argv.includes('--redis-cluster'), baselines: ['naive', 'resumable'] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick' || arg === '--keep-db' || arg === '--no-build' || arg === '--profile' || arg === '--redis-cluster') continue;
    if (arg === '--baselines') {
      const list = String(argv[++i] ?? '').split(',').filter((b) => b && b !== 'none');
      for (const b of list) if (!['naive', 'resumable'].includes(b)) throw new Error(`--baselines: unknown baseline ${b} (naive, resumable, none)`);
      flags.baselines = list;
      continue;
    }
    const key = names[arg];
    if (!key) throw new Error(`unknown flag ${arg}; flags: ${Object.keys(names).join(' ')} --baselines --quick --keep-db --no-build --profile --redis-cluster`);
    const value = Number(argv[++i]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${arg} needs a number, got ${argv[i]}`);
    flags[key] = value;
  }
  if (flags.streams < 1 || flags.tokens < 1 || flags.rate <= 0 || flags.threadsPerUser < 1) throw new Error('--streams, --tokens, --threads-per-user must be ≥ 1 and --rate > 0');
  return flags;
}

// ---- services --------------------------------------------------------------------------------

async function freshRedis() {
  const pidFile = path.join(redisDir, 'redis.pid');
  const oldPid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : null;
  stopRedis(redisDir);
  for (let i = 0; oldPid && i < 100 && fs.existsSync(`/proc/${oldPid}`); i++) await new Promise((r) => setTimeout(r, 50));
  fs.rmSync(redisDir, { recursive: true, force: true });
  const redis = await ensureRedis(redisDir, log);
  return { ...redis, pid: Number(fs.readFileSync(pidFile, 'utf8')) };
}

/**
 * The Redis a path runs on, as the measurements see it: `pids` (CPU), `resetStats`,
 * `commandStats`, `presence`, `monitor` (MONITOR sample), `flushall`.
 */
function singleRedis(redis, client) {
  return {
    kind: 'one Redis',
    pids: [redis.pid],
    resetStats: () => client.config('RESETSTAT'),
    commandStats: () => commandStats(client),
    presence: (prefix) => presenceEntries(client, prefix),
    monitor: (ms, isFrame) => monitorSample(client, ms, isFrame),
    flushall: () => client.flushall(),
  };
}

/** Per-key sums of `{key: number}` objects. */
function sumCounts(list) {
  const out = {};
  for (const counts of list) for (const [k, n] of Object.entries(counts ?? {})) out[k] = (out[k] ?? 0) + n;
  return out;
}

/**
 * The same over a cluster's nodes (`clients`: one ioredis connection per node). CPU counts all
 * six processes (replication is part of a cluster's cost); commands, presence keys, MONITOR
 * and FLUSHALL go to the masters (asked each time: which node is one may change). A replica's
 * commandstats count again each write it replays from its master (and a script's effects as
 * separate commands); they are kept apart, as `replicaCommandStats`.
 */
function clusterRedis(cluster, clients) {
  const byRole = async () => {
    const roles = await Promise.all(clients.map(async (c) => /role:(\w+)/.exec(await c.info('replication'))?.[1]));
    return { masters: clients.filter((_, i) => roles[i] === 'master'), replicas: clients.filter((_, i) => roles[i] !== 'master') };
  };
  return {
    kind: 'Redis Cluster, 3 masters + 3 replicas',
    pids: cluster.pids,
    resetStats: () => Promise.all(clients.map((c) => c.config('RESETSTAT'))),
    commandStats: async () => sumCounts(await Promise.all((await byRole()).masters.map(commandStats))),
    replicaCommandStats: async () => sumCounts(await Promise.all((await byRole()).replicas.map(commandStats))),
    presence: async (prefix) => {
      const counts = await Promise.all((await byRole()).masters.map((c) => presenceEntries(c, prefix)));
      return { threads: counts.reduce((a, c) => a + c.threads, 0), entries: counts.reduce((a, c) => a + c.entries, 0) };
    },
    monitor: async (ms, isFrame) => {
      const samples = await Promise.all((await byRole()).masters.map((c) => monitorSample(c, ms, isFrame)));
      return {
        from: Math.min(...samples.map((m) => m.from)),
        to: Math.max(...samples.map((m) => m.to)),
        roundTrips: samples.reduce((a, m) => a + m.roundTrips, 0),
        frames: samples.reduce((a, m) => a + m.frames, 0),
        topLevel: sumCounts(samples.map((m) => m.topLevel)),
        inner: sumCounts(samples.map((m) => m.inner)),
        carried: sumCounts(samples.map((m) => m.carried)),
      };
    },
    flushall: async () => Promise.all((await byRole()).masters.map((c) => c.flushall())),
  };
}

function dropDatabase(pg, name) {
  execFileSync(pg.psql, [pg.url('postgres'), '-tAc', `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`], { stdio: 'ignore' });
}

// ---- the three paths -------------------------------------------------------------------------

const profileDir = path.join(resultsDir, 'profiles');
const node = (file, role) => [
  '--enable-source-maps',
  // DevTools on loopback (a free port) so the bench can force a GC before reading the heap.
  ...(role ? ['--inspect=127.0.0.1:0'] : []),
  ...(flags.profile && role ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${role}.cpuprofile`] : []),
  file,
];
const logFile = (name) => path.join(logDir, `${name}.log`);

async function startOurs(env) {
  const base = {
    ...env, NODE_ENV: 'production', REDIS_PREFIX: PREFIX, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info',
    FRAME_MS: String(flags.frameMs), WORKER_CONCURRENCY: String(Math.max(200, flags.streams + 50)),
    RATE_LIMIT_SENDS: '1000000', SHUTDOWN_GRACE_MS: '2000',
  };
  const [api, worker] = await Promise.all([
    startProcess({ name: 'ours-api', args: node(path.join(repoRoot, 'dist/api/main.js'), 'ours-api'), env: base, logFile: logFile('ours-api'), ready: (l) => l.msg === 'listening' }),
    startProcess({ name: 'ours-worker', args: node(path.join(repoRoot, 'dist/worker/main.js'), 'ours-worker'), env: base, logFile: logFile('ours-worker'), ready: (l) => l.msg === 'worker ready' }),
  ]);
  const apiUrl = `http://127.0.0.1:${api.readyLine.port}`;
  return { api, worker, apiUrl, client: 'socket', isFrame: (command, _args, lua) => lua && command === 'append' };
}

async function startNaive(env) {
  const api = await startProcess({ name: 'naive-server', args: [path.join(benchDir, 'naive-server.mjs')], env, logFile: logFile('naive-server'), ready: (l) => l.msg === 'listening' });
  return { api, worker: null, apiUrl: `http://127.0.0.1:${api.readyLine.port}`, client: 'socket', isFrame: null };
}

async function startResumable(env) {
  const [api, worker] = await Promise.all([
    startProcess({ name: 'resumable-api', args: [path.join(benchDir, 'resumable-api.mjs')], env, logFile: logFile('resumable-api'), ready: (l) => l.msg === 'listening' }),
    startProcess({ name: 'resumable-producer', args: [path.join(benchDir, 'resumable-producer.mjs')], env, logFile: logFile('resumable-producer'), ready: (l) => l.msg === 'listening' }),
  ]);
  return {
    api, worker, client: 'sse',
    apiUrl: `http://127.0.0.1:${api.readyLine.port}`,
    producerUrl: `http://127.0.0.1:${worker.readyLine.port}`,
    isFrame: (command, args, lua) => !lua && command === 'publish' && String(args[1]).includes(':chunk:'),
  };
}

const STARTERS = { ours: startOurs, naive: startNaive, resumable: startResumable };

// ---- measuring -------------------------------------------------------------------------------

/** CPU seconds of every process that matters, keyed by role. */
function cpuMark(roles) {
  const mark = { at: Date.now(), machine: machineCpu() };
  for (const [role, pids] of Object.entries(roles())) mark[role] = Object.fromEntries(pids.map((pid) => [pid, cpuSeconds(pid) ?? 0]));
  return mark;
}

/** CPU seconds each role used between two marks (a process born in between started at 0). */
function cpuDelta(before, after) {
  const out = { seconds: (after.at - before.at) / 1000, machineBusy: (after.machine.busy - before.machine.busy) / (after.machine.total - before.machine.total) };
  let ours = 0;
  for (const role of Object.keys(after)) {
    if (role === 'at' || role === 'machine') continue;
    out[role] = Object.entries(after[role]).reduce((sum, [pid, cpu]) => sum + cpu - (before[role]?.[pid] ?? 0), 0);
    ours += out[role];
  }
  // Everything else the machine did meanwhile (other users of it disturb the figures).
  out.others = Math.max(0, (after.machine.busy - before.machine.busy) / 100 - ours);
  return out;
}

async function apiMetrics(setup) {
  try {
    if (setup.client === 'sse' || !setup.worker) {
      const res = await fetch(`${setup.apiUrl}/stats`);
      return res.ok ? await res.json() : null;
    }
    const res = await fetch(`${setup.apiUrl}/metrics`);
    if (!res.ok) return { unavailable: `GET /metrics answered ${res.status}` };
    const picked = {};
    for (const line of (await res.text()).split('\n')) {
      const m = /^(([a-z_:]+)(\{[^}]*\})?)\s+(\S+)$/i.exec(line.trim());
      if (!m || /_(bucket|sum|count|created)$/.test(m[2])) continue;
      if (/(socket|room|presence|listener|heap_size_used)/i.test(m[2])) picked[m[1]] = Number(m[4]);
    }
    return picked;
  } catch (err) {
    return { unavailable: err.message };
  }
}

async function stateMark(setup, target) {
  return {
    rss: { api: rssBytes(setup.api.pid), worker: setup.worker ? rssBytes(setup.worker.pid) : null },
    heap: { api: await heapAfterGc(setup.api.inspectorUrl), worker: await heapAfterGc(setup.worker?.inspectorUrl) },
    metrics: await apiMetrics(setup),
    presence: setup.client === 'socket' && setup.worker ? await target.presence(PREFIX) : null,
  };
}

/** Polls RSS every 500 ms; returns the peak per role when stopped. */
function rssPeaks(pids) {
  const peak = {};
  const poll = () => {
    for (const [role, pid] of Object.entries(pids)) if (pid) peak[role] = Math.max(peak[role] ?? 0, rssBytes(pid) ?? 0);
  };
  poll();
  const timer = setInterval(poll, 500);
  return () => (clearInterval(timer), poll(), peak);
}

/** Messages from a driver process, awaited by type; progress lines go to `onProgress`. */
function driverChannel(child, onProgress) {
  const waiting = new Map();
  const queued = [];
  let failure = null;
  child.on('message', (m) => {
    if (m.type === 'progress') return onProgress(m);
    if (m.type === 'log') return log(`  driver: ${m.text}`);
    if (m.type === 'error') {
      failure = new Error(`driver failed: ${m.message}`);
      for (const { reject } of waiting.values()) reject(failure);
      return;
    }
    const w = waiting.get(m.type);
    if (w) (waiting.delete(m.type), w.resolve(m));
    else queued.push(m);
  });
  child.once('exit', (code) => {
    failure ??= new Error(`driver exited (${code})`);
    for (const { reject } of waiting.values()) reject(failure);
  });
  return {
    next(type) {
      const i = queued.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(queued.splice(i, 1)[0]);
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => waiting.set(type, { resolve, reject }));
    },
  };
}

/**
 * This machine may be shared: waits up to `maxMs` for a second in which processes other
 * than ours keep less than a third of one core busy, and says so when it gives up.
 */
async function waitForQuiet(maxMs = 60_000) {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const a = machineCpu();
    await new Promise((r) => setTimeout(r, 1000));
    const b = machineCpu();
    const busyCores = (b.busy - a.busy) / 100;
    if (busyCores < 0.33) return;
    if (Date.now() > deadline) return log(`  the machine is still busy (${fmt(busyCores * 100)}% of a core used by other processes); measuring anyway`);
    log(`  waiting for the machine to be quiet (${fmt(busyCores * 100)}% of a core busy elsewhere)…`);
  }
}

/**
 * Completion → `notification.created` at the client, from each stream's `ended_at` in
 * Postgres (same machine, same clock), and how fast the listener decided: decisions per
 * second from the first completion to the last decision.
 */
async function notificationLatency(pgClient, { streamIds, receivedAt }) {
  const { rows } = await pgClient.query(
    `SELECT id::text AS id, extract(epoch FROM ended_at) * 1000 AS ended, extract(epoch FROM notification_decided_at) * 1000 AS decided
     FROM streams WHERE id = ANY($1::uuid[])`,
    [streamIds],
  );
  const latencies = rows.filter((r) => receivedAt[r.id] !== undefined && r.ended !== null).map((r) => receivedAt[r.id] - Number(r.ended));
  const ended = rows.filter((r) => r.ended !== null).map((r) => Number(r.ended));
  const decided = rows.filter((r) => r.decided !== null).map((r) => Number(r.decided));
  const spanMs = decided.length && ended.length ? Math.max(...decided) - Math.min(...ended) : null;
  return {
    sent: streamIds.length,
    received: Object.keys(receivedAt).length,
    latency: summarize(latencies),
    completionSpanMs: ended.length ? Math.max(...ended) - Math.min(...ended) : null,
    decisionsPerSecond: spanMs ? (decided.length * 1000) / spanMs : null,
  };
}

async function runPath(name, env, services) {
  log(`── ${name} ──`);
  await waitForQuiet(flags.quietWait * 1000);
  // Ours on the cluster when asked; the baselines always on the one Redis.
  const target = name === 'ours' && services.cluster ? services.cluster : services.redis.target;
  if (target !== services.redis.target) env = { ...env, REDIS_URL: undefined, REDIS_CLUSTER_NODES: services.clusterNodes };
  env = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
  const setup = await STARTERS[name](env);
  const streamSeconds = flags.tokens / flags.rate;
  const driverConfig = {
    label: `${name}${randomBytes(2).toString('hex')}`,
    client: setup.client, apiUrl: setup.apiUrl, producerUrl: setup.producerUrl, secret: env.AUTH_SECRET,
    streams: flags.streams, threadsPerUser: flags.threadsPerUser, tokens: flags.tokens, rate: flags.rate,
    openRate: flags.openRate, probeSockets: flags.probeSockets,
    // Thread switches measure the product's rooms and presence; the baselines have none to compare.
    switches: name === 'ours' ? flags.switches : 0, sendWindowMs: flags.sendWindowMs,
    // Only the product notifies: a burst of answers on threads nobody has open.
    notifications: name === 'ours' ? flags.streams : 0,
    deadlineMs: Math.round(streamSeconds * 3000 + 60_000),
  };
  const driver = await startProcess({ name: `${name}-driver`, args: [path.join(benchDir, 'driver.mjs'), JSON.stringify(driverConfig)], env: process.env, logFile: logFile(`${name}-driver`), ipc: true });
  const roles = () => ({
    api: [setup.api.pid], worker: setup.worker ? [setup.worker.pid] : [], driver: [driver.pid],
    redis: target.pids, postgres: postgresPids(services.pgdata),
  });
  let lastMark = null;
  let monitor = null;
  const onProgress = (p) => {
    const mark = cpuMark(roles);
    const d = lastMark ? cpuDelta(lastMark, mark) : null;
    lastMark = mark;
    const pct = (role) => (d && d[role] !== undefined ? `${Math.round((100 * d[role]) / d.seconds)}%` : '—');
    log(`  ${name} ${String(p.seconds).padStart(3)}s  streams ${p.active} live, ${p.completed} done | ${fmt(p.framesPerSecond)} msg/s ${fmt(p.tokensPerSecond)} tok/s p99 ${fmt(p.p99)} ms | ${p.opens} opens | cpu api ${pct('api')} worker ${pct('worker')} driver ${pct('driver')} redis ${pct('redis')} pg ${pct('postgres')} others ${pct('others')} | driver lag p99 ${fmt(p.loopLagP99)} ms`);
    const steady = p.active >= 0.8 * flags.streams || p.seconds >= streamSeconds / 2;
    if (!monitor && setup.isFrame && flags.monitorMs > 0 && steady && p.active > 0) {
      // MONITOR echoes every command, Lua-inner ones included, so it costs Redis (and its
      // clients) more the more commands a path runs: its window is left out of the latency
      // and CPU figures alike (CPU and tokens of the window are subtracted).
      const windowMark = async () => {
        driver.child.send({ type: 'mark' });
        const { tokens } = await channel.next('marked');
        return { cpu: cpuMark(roles), tokens };
      };
      monitor = (async () => {
        const start = await windowMark();
        const sample = await target.monitor(flags.monitorMs, setup.isFrame);
        const end = await windowMark();
        return { ...sample, window: { cpu: cpuDelta(start.cpu, end.cpu), tokens: end.tokens - start.tokens } };
      })().then((sample) => {
        driver.child.send({ type: 'exclude', from: sample.from, to: sample.to });
        log(`  MONITOR sample: ${sample.roundTrips} round trips for ${sample.frames} deliveries in ${sample.to - sample.from} ms (left out of latency and CPU figures)`);
        return sample;
      }, (err) => (log(`  MONITOR sample failed: ${err.message}`), null));
    }
  };
  const channel = driverChannel(driver.child, onProgress);
  try {
    const ready = await channel.next('ready');
    await target.resetStats();
    await resetStatements(services.pgClient);
    const idle = await stateMark(setup, target);
    const before = cpuMark(roles);
    lastMark = before;
    const peaks = rssPeaks({ api: setup.api.pid, worker: setup.worker?.pid, driver: driver.pid });
    driver.child.send({ type: 'go' });
    const { result: streamed } = await channel.next('streamed');
    const after = cpuMark(roles);
    const monitored = monitor ? await monitor : null;
    const redisCalls = await target.commandStats();
    const replicaCalls = target.replicaCommandStats ? await target.replicaCommandStats() : undefined;
    const pgRows = await statements(services.pgClient);
    const rssPeak = peaks();

    // Only the product notifies (the baselines' drivers have no such phase).
    let notified = null;
    if (driverConfig.notifications > 0) {
      driver.child.send({ type: 'notify' });
      const { result: burst } = await channel.next('notified');
      notified = burst && (await notificationLatency(services.pgClient, burst));
    }

    const beforeSwitches = await stateMark(setup, target);
    await resetStatements(services.pgClient);
    await target.resetStats();
    const switchCpuBefore = cpuMark(roles);
    driver.child.send({ type: 'switch' });
    const { result: switched } = await channel.next('switched');
    const switchCpu = cpuDelta(switchCpuBefore, cpuMark(roles));
    const switchPg = await statements(services.pgClient);
    const switchRedis = await target.commandStats();
    const afterSwitches = await stateMark(setup, target);
    driver.child.send({ type: 'close' });
    await channel.next('closed');
    await new Promise((r) => setTimeout(r, 1000));
    const afterClose = await stateMark(setup, target);
    return {
      name, redis: target.kind, ready, streamed, notified, cpu: cpuDelta(before, after), rssPeak, redisCalls, replicaCalls, monitored, pgRows,
      switches: switched && { ...switched, cpu: switchCpu, pgRows: switchPg, redisCalls: switchRedis, idle, before: beforeSwitches, after: afterSwitches, afterClose },
    };
  } finally {
    await stopProcess(driver, 5000);
    await Promise.all([stopProcess(setup.api), setup.worker && stopProcess(setup.worker)]);
    await target.flushall();
  }
}

// ---- main ------------------------------------------------------------------------------------

const flags = parseFlags(process.argv.slice(2));
let cleanup = async () => undefined;

async function main() {
  const started = Date.now();
  const cores = os.cpus().length;
  log(`${cores} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}; ${flags.streams} streams × ${flags.tokens} tokens at ${flags.rate} tokens/s, FRAME_MS ${flags.frameMs}, ${flags.switches} switches, baselines: ${flags.baselines.join(', ') || 'none'}`);
  fs.mkdirSync(logDir, { recursive: true });
  if (flags.profile) fs.rmSync(profileDir, { recursive: true, force: true });
  // A fresh clone has no node_modules yet: install as `npm start` does.
  ensureDependencies(log);
  ensurePrismaClient(log);
  if (flags.noBuild) log('--no-build: measuring the dist/ that is there');
  else {
    try {
      await build(log);
    } catch (err) {
      // Others may be editing the tree; a dist/ from a moment ago still measures the product.
      if (!fs.existsSync(path.join(repoRoot, 'dist/api/main.js')) || !fs.existsSync(path.join(repoRoot, 'dist/worker/main.js'))) throw err;
      log(`build failed (${String(err.message).split('\n')[0]}…); measuring the dist/ that is there`);
    }
  }

  const pg = await ensurePostgres(path.join(repoRoot, '.data'), log);
  const dbName = `bench_${Date.now()}`;
  const databaseUrl = ensureDatabase(pg, dbName);
  migrate(databaseUrl);
  const redis = await freshRedis();
  // Ours on a cluster of its own when asked (should it fail to start, it stops the nodes it started).
  const cluster = flags.redisCluster ? await startRedisCluster(redisClusterDir, log) : null;
  const { Redis } = await import('ioredis');
  const pgModule = await import('pg');
  const redisClient = new Redis(redis.url, { connectionName: 'bench-orchestrator' });
  const clusterClients = cluster ? cluster.ports.map((port) => new Redis({ host: '127.0.0.1', port, connectionName: 'bench-orchestrator' })) : [];
  const pgClient = new pgModule.default.Client({ connectionString: databaseUrl });
  await pgClient.connect();
  await enableStatements(pgClient);
  cleanup = async () => {
    await stopAll();
    redisClient.disconnect();
    for (const c of clusterClients) c.disconnect();
    await cluster?.stop();
    await pgClient.end().catch(() => undefined);
    stopRedis(redisDir);
    if (!flags.keepDb) dropDatabase(pg, dbName);
  };

  const env = {
    PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl, REDIS_URL: redis.url,
    AUTH_SECRET: randomBytes(24).toString('hex'),
    // Node and V8 flags to try on every process of the run (e.g. a heap size).
    ...(process.env.NODE_OPTIONS ? { NODE_OPTIONS: process.env.NODE_OPTIONS } : {}),
  };
  const services = {
    redis: { ...redis, client: redisClient, target: singleRedis(redis, redisClient) },
    cluster: cluster && clusterRedis(cluster, clusterClients),
    clusterNodes: cluster?.nodes,
    pgClient, pgdata: path.join(pg.root, 'data'),
  };
  log(`ours runs on ${cluster ? `a Redis Cluster, 3 masters + 3 replicas (${cluster.nodes})` : `one Redis (${redis.url})`}${flags.baselines.length ? '; the baselines on one Redis' : ''}`);
  const versions = {
    redis: (await redisClient.info('server')).match(/redis_version:(\S+)/)?.[1],
    postgres: (await pgClient.query('SHOW server_version')).rows[0].server_version,
  };
  const results = [];
  for (const name of ['ours', ...flags.baselines]) results.push(await runPath(name, env, services));

  const profiles = {};
  for (const role of flags.profile ? ['ours-api', 'ours-worker'] : []) {
    const file = path.join(profileDir, `${role}.cpuprofile`);
    if (fs.existsSync(file)) profiles[role] = summarizeProfile(file);
  }
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const report = withRedisLine(
    renderReport({ flags, results, profiles, command, cores, cpuModel: os.cpus()[0]?.model, node: process.version, versions, seconds: (Date.now() - started) / 1000 }),
    command,
    cluster
      ? `Redis for ours: Redis Cluster, 3 masters + 3 replicas (Redis CPU summed over the 6 nodes, Redis commands over the 3 masters)${flags.baselines.length ? '; the baselines: one Redis' : ''}.`
      : `Redis for ours: one Redis${flags.baselines.length ? ', as for the baselines' : ''}.`,
  );
  console.log(`\n${report}`);
  fs.writeFileSync(path.join(resultsDir, 'latest.md'), `${report}\n`);
  fs.writeFileSync(path.join(resultsDir, 'latest.log'), `${runLog.join('\n')}\n`);
  fs.writeFileSync(path.join(resultsDir, 'latest.json'), `${JSON.stringify({ flags, command, cores, versions, redis: cluster ? 'cluster' : 'single', results }, null, 2)}\n`);
  log(`wrote bench/results/latest.md and latest.json in ${Math.round((Date.now() - started) / 1000)} s; process logs in bench/results/logs/`);
}

/** The report with `line` added to its header, after the line that names the command. */
function withRedisLine(report, command, line) {
  const lines = report.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`\`${command}\``));
  lines.splice(at >= 0 ? at + 1 : 1, 0, line);
  return lines.join('\n');
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping everything this run started…`);
    cleanup().finally(() => process.exit(130));
  });
}

process.on('uncaughtException', (err) => {
  console.error(`[bench] ${err.stack ?? err}`);
  if (interrupted) return;
  interrupted = true;
  cleanup().finally(() => process.exit(1));
});

main()
  .then(() => cleanup())
  .catch(async (err) => {
    if (interrupted) return; // Ctrl-C closed the connections under it; cleanup is running
    console.error(`[bench] ${err.stack ?? err}`);
    await cleanup().catch(() => undefined);
    process.exitCode = 1;
  });
