// `npm start`: install what is missing, start local Redis and Postgres under .data/ (unless
// REDIS_URL / DATABASE_URL are set), migrate, then run the API and worker processes.
// Flags: --api N --workers M (or API_INSTANCES / WORKER_INSTANCES). Ports: PORT, PORT+1, … for
// the APIs, then one metrics port per worker (METRICS_PORT, METRICS_PORT+1, … when it is set).
// --redis-cluster: a local Redis Cluster (3 masters + 3 replicas) under .data/redis-cluster
// instead of the one Redis, passed as REDIS_CLUSTER_NODES (unless that is set already).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { build, ensureDependencies, ensurePrismaClient, migrate, repoRoot } from './lib/bootstrap.mjs';
import { ensureRedisCluster } from './lib/redis-cluster.mjs';
import { ensureDatabase, ensurePostgres, ensureRedis } from './lib/services.mjs';

const log = (m) => console.log(`[start] ${m}`);

/**
 * `--api N` / `--workers M` as given to this script (`npm start -- --api 2`), or as npm passes
 * `npm start --api=2` (npm_config_api=2), or from the environment. A bare `npm start --api 2`
 * is refused: npm keeps `--api` for itself and passes only the number, so it cannot be read.
 */
function parseCount(flag, envName, fallback) {
  const i = process.argv.indexOf(flag);
  const fromNpm = process.env[`npm_config_${flag.slice(2)}`];
  if (i < 0 && fromNpm === 'true') {
    throw new Error(`npm kept ${flag} for itself: run \`npm start -- ${flag} N\` or \`npm start ${flag}=N\``);
  }
  const raw = i >= 0 ? process.argv[i + 1] : (fromNpm ?? process.env[envName]);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 32) throw new Error(`${flag} / ${envName} must be an integer from 0 to 32, got ${raw}`);
  return n;
}

/**
 * A switch such as `--redis-cluster`, given to this script (`npm start -- --redis-cluster`) or
 * to npm (`npm start --redis-cluster`, which npm passes as npm_config_redis_cluster=true).
 */
function parseSwitch(flag) {
  return process.argv.includes(flag) || process.env[`npm_config_${flag.slice(2).replace(/-/g, '_')}`] === 'true';
}

/** A dev secret kept under .data/ so tokens survive restarts; never used when AUTH_SECRET is set. */
function devSecret(dataDir, name = 'auth-secret') {
  const file = path.join(dataDir, name);
  if (!fs.existsSync(file)) fs.writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  return fs.readFileSync(file, 'utf8').trim();
}

/** How many of a process's last output lines a start-up failure prints. */
const TAIL_LINES = 20;

/** Spawns a built process, its output prefixed with its name; `child.tail` keeps its last lines. */
function run(name, bundle, env) {
  const child = spawn(process.execPath, ['--enable-source-maps', path.join(repoRoot, 'dist', bundle, 'main.js')], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.label = name;
  child.tail = [];
  const keep = (line) => {
    child.tail.push(line);
    if (child.tail.length > TAIL_LINES) child.tail.shift();
  };
  const prefix = (stream, out) => {
    let rest = '';
    stream.on('data', (chunk) => {
      rest += chunk.toString();
      let nl;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl);
        keep(line);
        out.write(`[${name}] ${line}\n`);
        rest = rest.slice(nl + 1);
      }
    });
    stream.on('end', () => {
      if (rest) (keep(rest), out.write(`[${name}] ${rest}\n`));
      rest = '';
    });
  };
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  return child;
}

/** Resolves when the first of `children` has ended, its output read to the end ('close', not 'exit'). */
function firstExit(children) {
  return new Promise((resolve) => {
    for (const child of children) child.once('close', (code, signal) => resolve({ child, code, signal }));
  });
}

/** Why start-up failed: which process ended, how, and its last output lines. */
function startupExitMessage({ child, code, signal }) {
  const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
  const tail = child.tail.length ? `; its last lines:\n${child.tail.map((l) => `  ${l}`).join('\n')}` : ', printing nothing';
  return `${child.label} ${how} during start-up${tail}`;
}

const hasExited = (c) => c.exitCode !== null || c.signalCode !== null;
const allExited = (children) => Promise.all(children.map((c) => new Promise((r) => (hasExited(c) ? r() : c.once('exit', r)))));

/** Polls /readyz; generous, since a busy 2-core machine can take a while to start four processes. */
async function waitForReady(url, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) });
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url}/readyz did not turn ready within ${timeoutMs} ms`);
}

async function main() {
  const apis = parseCount('--api', 'API_INSTANCES', 1);
  const workers = parseCount('--workers', 'WORKER_INSTANCES', 1);
  const redisCluster = parseSwitch('--redis-cluster');
  const dataDir = path.join(repoRoot, '.data');
  fs.mkdirSync(dataDir, { recursive: true });

  ensureDependencies(log);
  ensurePrismaClient(log);
  await build(log);

  const background = !['false', '0', 'no', 'off'].includes(String(process.env.BACKGROUND_STREAMING ?? 'true').toLowerCase());
  const env = { ...process.env };
  if (!env.DATABASE_URL) env.DATABASE_URL = ensureDatabase(await ensurePostgres(dataDir, log), 'bgs');
  // REDIS_CLUSTER_NODES replaces REDIS_URL when set, so the one Redis is then not started.
  if (redisCluster && background && !env.REDIS_CLUSTER_NODES) {
    const cluster = await ensureRedisCluster(path.join(dataDir, 'redis-cluster'), log);
    env.REDIS_CLUSTER_NODES = cluster.nodes;
  }
  if (env.REDIS_CLUSTER_NODES && background) log(`Redis Cluster seed nodes: ${env.REDIS_CLUSTER_NODES}`);
  else if (!env.REDIS_URL && background) env.REDIS_URL = (await ensureRedis(path.join(dataDir, 'redis'), log)).url;
  env.AUTH_SECRET ??= devSecret(dataDir);
  env.NODE_ENV ??= 'development';
  if (env.NODE_ENV !== 'production') env.AUTH_DEV_TOKENS ??= '1';
  // The queue board is opened with a token; in development one is made up like the auth secret.
  if (env.NODE_ENV !== 'production' && background) env.ADMIN_TOKEN ??= devSecret(dataDir, 'admin-token');
  migrate(env.DATABASE_URL);

  const basePort = Number(env.PORT ?? 3000);
  const children = [];
  for (let i = 0; i < apis; i++) children.push(run(`api${apis > 1 ? i + 1 : ''}`, 'api', { ...env, PORT: String(basePort + i) }));
  // Each worker serves its own /metrics; with METRICS_PORT=0 each picks a free port and logs it.
  const metricsBase = env.METRICS_PORT !== undefined && env.METRICS_PORT !== '' ? Number(env.METRICS_PORT) : basePort === 0 ? 0 : basePort + apis;
  const metricsPort = (i) => (metricsBase === 0 ? 0 : metricsBase + i);
  if (background) {
    for (let i = 0; i < workers; i++) children.push(run(`worker${workers > 1 ? i + 1 : ''}`, 'worker', { ...env, METRICS_PORT: String(metricsPort(i)) }));
  }

  let stopping = false;
  let interrupted = false;
  const stopAll = (signal) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping ${children.length} processes…`);
    for (const c of children) c.kill('SIGTERM');
  };
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => ((interrupted = true), stopAll(signal)));
  for (const c of children) {
    c.on('exit', (code, signal) => {
      if (!stopping) {
        log(`a process exited (${signal ?? code}); stopping the rest`);
        stopAll('exit');
        process.exitCode = 1;
      }
    });
  }

  // From here on, a failure must not leave the processes behind. A process that ends while
  // the others start up (a configuration error, a port in use) fails at once, with its last
  // lines, rather than after the readiness timeout.
  try {
    const ended = await Promise.race([announce({ apis, workers, background, basePort, metricsBase, metricsPort, env }).then(() => null), firstExit(children)]);
    if (ended && !interrupted) throw new Error(startupExitMessage(ended));
  } catch (err) {
    stopAll('failure');
    await allExited(children);
    throw err;
  }
  await allExited(children);
}

/** Waits for the first API, then prints where everything is (and a dev token when they are on). */
async function announce({ apis, workers, background, basePort, metricsBase, metricsPort, env }) {
  if (apis > 0) {
    const url = `http://localhost:${basePort}`;
    await waitForReady(`http://127.0.0.1:${basePort}`);
    let token = '';
    if (env.AUTH_DEV_TOKENS === '1' || env.AUTH_DEV_TOKENS === 'true') {
      const res = await fetch(`http://127.0.0.1:${basePort}/api/dev/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'demo' }),
      });
      token = (await res.json()).token;
    }
    console.log(
      [
        '',
        `  Ready: ${apis} API instance(s) on ports ${basePort}…${basePort + apis - 1}, ${background ? workers : 0} worker(s), background streaming ${background ? 'on' : 'off'}.`,
        `  Chat page:  ${url}/`,
        `  Metrics:    ${url}/metrics${apis > 1 ? ` (each API on its own port)` : ''}` +
          (background && workers > 0 ? `; workers: ${metricsBase === 0 ? 'ports logged as "metrics listening"' : `http://localhost:${metricsPort(0)}/metrics${workers > 1 ? ` … ${metricsPort(workers - 1)}` : ''}`}` : ''),
        `  API docs:   ${url}/api/openapi.json`,
        background && env.ADMIN_TOKEN ? `  Queues:     ${url}/admin/queues?token=${env.ADMIN_TOKEN}` : '',
        token ? `  Dev token (user "demo"):\n    ${token}` : '  Dev tokens are off.',
        token ? `  Try:  curl -s -X POST ${url}/api/threads -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"title":"Hello"}'` : '',
        '  Stop with Ctrl-C.',
        '',
      ].join('\n'),
    );
  }
}

main().then(
  // At once: a readiness poll interrupted by Ctrl-C would otherwise keep the process up.
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    console.error(`[start] ${err.message ?? err}`);
    process.exit(1);
  },
);
