// A local Redis Cluster (3 masters + 3 replicas) on loopback ports found free, for
// `npm start -- --redis-cluster`, `npm test` and `npm run bench -- --redis-cluster`.
// Plain Node (no dependencies) like services.mjs; needs Debian's redis-server 7.0
// (cluster mode, `--cluster-port`, sharded pub/sub) and its redis-cli.
//
// Each node is a daemonized redis-server in `dir/<port>/` (AOF on, `noeviction`, no RDB,
// nodes.conf, pidfile, redis.log). The ports are remembered in `dir/ports`, so a second
// `ensureRedisCluster` finds the running cluster, and after a reboot starts the nodes again
// on the same ports with their nodes.conf and AOF (the cluster re-forms, data kept).
// Each node's cluster bus port is chosen free as well (`--cluster-port`) rather than the
// default port + 10000, which can be taken or lie beyond 65535 for a high free port.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ensureDebianPackage, freePort } from './services.mjs';

const NODE_COUNT = 6;
const REPLICAS = 1;
const NODE_TIMEOUT_MS = 2000;
const HOST = '127.0.0.1';
/** How long a fresh cluster may take to be created and synced (a busy 2-core machine is slow). */
const READY_TIMEOUT_MS = 60_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- talking to one node (redis-cli) ---------------------------------------------------------

/** redis-cli's reply as text, or null when the node does not answer. */
function cli(port, args, timeout = 3000) {
  const r = spawnSync('redis-cli', ['-h', HOST, '-p', String(port), ...args], { encoding: 'utf8', timeout });
  if (r.error || r.status !== 0) return null;
  return r.stdout;
}

const ping = (port) => cli(port, ['PING'], 2000)?.trim() === 'PONG';

/** True when the node on `port` is ours: it answers and keeps its data in `dir/<port>` (not another Redis that took the port). */
function ours(dir, port) {
  const reply = cli(port, ['CONFIG', 'GET', 'dir'], 2000);
  if (reply === null) return false;
  try {
    return reply.split(/\r?\n/)[1] === fs.realpathSync(path.join(dir, String(port))); // Redis reports its cwd
  } catch {
    return false;
  }
}

/** `INFO`/`CLUSTER INFO` text as `{field: value}`; empty when the node does not answer. */
function fields(text) {
  const out = {};
  for (const line of (text ?? '').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

const clusterInfo = (port) => fields(cli(port, ['CLUSTER', 'INFO']));
const replicationInfo = (port) => fields(cli(port, ['INFO', 'replication']));

// ---- processes -------------------------------------------------------------------------------

function pidOf(nodeDir) {
  try {
    return Number(fs.readFileSync(path.join(nodeDir, 'redis.pid'), 'utf8')) || null;
  } catch {
    return null;
  }
}

/** True while `pid` runs (a zombie counts as gone: where PID 1 reaps nothing, daemons end as zombies). */
function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** True when nothing listens on `port` and it can be bound. */
function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** `count` distinct free loopback ports (freePort may hand out the same port twice). */
async function freePorts(count) {
  const ports = new Set();
  for (let tries = 0; ports.size < count; tries++) {
    if (tries > count * 20) throw new Error(`could not find ${count} free ports on ${HOST}`);
    ports.add(await freePort());
  }
  return [...ports];
}

const logOf = (dir, port) => path.join(dir, String(port), 'redis.log');

/** The last lines of a node's log, for error messages. */
function logTail(dir, port, lines = 8) {
  try {
    const text = fs.readFileSync(logOf(dir, port), 'utf8').trimEnd().split('\n');
    return text.slice(-lines).map((l) => `    ${l}`).join('\n');
  } catch {
    return '    (no log)';
  }
}

/** Starts one daemonized node on `port` (cluster bus on `busPort`); resolves once it answers PING. */
async function startNode(dir, port, busPort) {
  const nodeDir = path.join(dir, String(port));
  fs.mkdirSync(nodeDir, { recursive: true });
  try {
    execFileSync('redis-server', [
      '--bind', HOST, '--port', String(port), '--dir', nodeDir,
      '--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '--save', '',
      '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(NODE_TIMEOUT_MS), '--cluster-port', String(busPort),
      '--daemonize', 'yes', '--pidfile', path.join(nodeDir, 'redis.pid'), '--logfile', logOf(dir, port),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`redis-server on ${HOST}:${port} did not start: ${String(err.stderr || err.message).trim()}\n  see ${logOf(dir, port)}`);
  }
  for (let i = 0; i < 200 && !ping(port); i++) await sleep(50);
  if (!ping(port)) throw new Error(`redis-server did not answer on ${HOST}:${port} within 10 s; see ${logOf(dir, port)}:\n${logTail(dir, port)}`);
}

/** SIGTERM to every node under `dir` (pidfiles); resolves once all have exited (AOF flushed). */
async function stopNodes(dir, ports, timeoutMs = 15_000) {
  const pids = ports.map((p) => pidOf(path.join(dir, String(p)))).filter((pid) => pid && alive(pid));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(50);
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  while (pids.some(alive) && Date.now() < deadline + 5000) await sleep(50);
}

// ---- the ports file --------------------------------------------------------------------------

/** `dir/ports`: `{ ports: [6 client ports], busPorts: [6 cluster bus ports] }`, or null. */
function readPorts(dir) {
  try {
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'ports'), 'utf8'));
    if (Array.isArray(saved.ports) && saved.ports.length === NODE_COUNT && saved.busPorts?.length === NODE_COUNT) return saved;
  } catch {
    /* none or unreadable */
  }
  return null;
}

/** The node directories under `dir` (named after their ports). */
function nodeDirs(dir) {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => /^\d+$/.test(n)) : [];
}

// ---- creating and checking the cluster -------------------------------------------------------

/** True once any node has the 16,384 slots assigned (the cluster was created). */
const created = (ports) => ports.some((p) => Number(clusterInfo(p).cluster_slots_assigned) === 16384);

/** Returns any node back to an empty, cluster-less state (after a `--cluster create` that failed half-way). */
function resetNodes(ports) {
  for (const p of ports) {
    cli(p, ['FLUSHALL']);
    cli(p, ['CLUSTER', 'RESET', 'HARD']);
  }
}

/** `redis-cli --cluster create`, retried while a node is not ready for it yet. */
async function createCluster(dir, ports, log) {
  let output = '';
  for (let attempt = 1; attempt <= 5; attempt++) {
    for (const p of ports) {
      if (!ping(p)) throw new Error(`node ${HOST}:${p} does not answer; see ${logOf(dir, p)}:\n${logTail(dir, p)}`);
    }
    const r = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', String(REPLICAS), '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, NO_COLOR: '1' },
    });
    output = `${r.stdout ?? ''}${r.stderr ?? ''}`.replace(/\x1b\[[0-9;]*m/g, '');
    if (r.status === 0 && output.includes('[OK] All 16384 slots covered')) return;
    log(`redis-cli --cluster create failed (attempt ${attempt} of 5): ${output.trim().split('\n').slice(-2).join(' ')}`);
    resetNodes(ports);
    await sleep(500 * attempt);
  }
  throw new Error(`redis-cli --cluster create failed 5 times; its last output:\n${output.trim()}\n  node logs: ${dir}/<port>/redis.log`);
}

/** What is still missing for the cluster to serve and survive a master's loss, or null when nothing is. */
function notReady(ports) {
  const missing = [];
  let masters = 0;
  for (const p of ports) {
    const info = clusterInfo(p);
    if (!info.cluster_state) {
      missing.push(`${p} does not answer`);
      continue;
    }
    if (info.cluster_state !== 'ok') missing.push(`${p} cluster_state:${info.cluster_state}`);
    if (Number(info.cluster_known_nodes) !== NODE_COUNT) missing.push(`${p} knows ${info.cluster_known_nodes} nodes`);
    const repl = replicationInfo(p);
    if (repl.role === 'master') masters++;
    else if (repl.master_link_status !== 'up') missing.push(`replica ${p} master_link_status:${repl.master_link_status ?? '?'}`);
  }
  if (missing.length === 0 && masters !== NODE_COUNT / (REPLICAS + 1)) missing.push(`${masters} masters`);
  return missing.length ? missing.join(', ') : null;
}

/** Waits until every node says cluster_state:ok and every replica has synced with its master. */
async function waitUntilReady(dir, ports, timeoutMs = READY_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let missing = notReady(ports);
  while (missing && Date.now() < deadline) {
    await sleep(200);
    missing = notReady(ports);
  }
  if (missing) {
    const tails = ports.map((p) => `  ${logOf(dir, p)}:\n${logTail(dir, p, 4)}`).join('\n');
    throw new Error(`the Redis Cluster under ${dir} was not ready within ${timeoutMs / 1000} s (${missing}); node logs:\n${tails}`);
  }
}

const seeds = (ports) => ports.map((p) => `${HOST}:${p}`).join(',');

/** Starts 6 nodes on new free ports in an emptied `dir` and makes a cluster of them. */
async function freshCluster(dir, log) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const [ports, busPorts] = await (async () => {
    const all = await freePorts(NODE_COUNT * 2);
    return [all.slice(0, NODE_COUNT), all.slice(NODE_COUNT)];
  })();
  // Written first: a failure below still leaves the pidfiles findable for stopRedisCluster.
  fs.writeFileSync(path.join(dir, 'ports'), `${JSON.stringify({ ports, busPorts })}\n`);
  try {
    await Promise.all(ports.map((p, i) => startNode(dir, p, busPorts[i])));
    await createCluster(dir, ports, log);
    await waitUntilReady(dir, ports);
  } catch (err) {
    await stopNodes(dir, ports);
    throw err;
  }
  log(`redis cluster started (3 masters + 3 replicas) on ${seeds(ports)} (${dir})`);
  return { ports, busPorts };
}

// ---- the exports -----------------------------------------------------------------------------

/**
 * For `npm start`: reuses the cluster under `dir` when its nodes answer (starting again any
 * that are down, on their ports and with their data), otherwise starts a new one. Resolves
 * once every node says cluster_state:ok and every replica has synced.
 * @returns {Promise<{ nodes: string, ports: number[], reused: boolean }>}
 */
export async function ensureRedisCluster(dir, log = console.log) {
  dir = path.resolve(dir);
  ensureDebianPackage('redis-server', 'redis-server', log);
  fs.mkdirSync(dir, { recursive: true });
  const saved = readPorts(dir);
  if (saved) {
    const { ports, busPorts } = saved;
    const down = ports.filter((p) => !ours(dir, p));
    // Each down node can come back only on its own port (nodes.conf holds the others' addresses).
    const restartable = down.length < NODE_COUNT || ports.every((p) => fs.existsSync(path.join(dir, String(p), 'nodes.conf')));
    const wanted = [...down, ...down.map((p) => busPorts[ports.indexOf(p)])];
    const freeFlags = await Promise.all(wanted.map(portFree));
    const taken = wanted.filter((_, i) => !freeFlags[i]);
    if (restartable && taken.length === 0) {
      try {
        for (const p of down) await startNode(dir, p, busPorts[ports.indexOf(p)]);
        if (down.length) log(`redis cluster: started ${down.length} stopped node(s) again on ${down.join(', ')} (${dir})`);
        if (!created(ports)) await createCluster(dir, ports, log);
        await waitUntilReady(dir, ports);
        return { nodes: seeds(ports), ports, reused: true };
      } catch (err) {
        log(`redis cluster under ${dir} could not be reused (${String(err.message).split('\n')[0]}); starting a new one`);
      }
    } else {
      log(`redis cluster under ${dir}: ${down.length} node(s) down and ${taken.length ? `port(s) ${taken.join(', ')} taken by another process` : 'some without nodes.conf'}; starting a new one`);
    }
    await stopNodes(dir, ports);
    // Its data is kept aside (a development cluster's queued jobs may matter), replacing an older copy.
    const aside = `${dir}.previous`;
    fs.rmSync(aside, { recursive: true, force: true });
    fs.renameSync(dir, aside);
    log(`the previous cluster's files are in ${aside}`);
  } else {
    // Node directories without a readable ports file: stop whatever still runs there (freshCluster empties it).
    await stopNodes(dir, nodeDirs(dir).map(Number));
  }
  const { ports } = await freshCluster(dir, log);
  return { nodes: seeds(ports), ports, reused: false };
}

/**
 * For tests and the benchmark: always a new, empty cluster under `dir` (any cluster running
 * there is stopped first). `stop()` stops its nodes (SIGTERM, waits for them to exit) and
 * leaves their logs in place.
 * @returns {Promise<{ nodes: string, ports: number[], pids: number[], reused: false, stop: () => Promise<void> }>}
 */
export async function startRedisCluster(dir, log = console.log) {
  dir = path.resolve(dir);
  ensureDebianPackage('redis-server', 'redis-server', log);
  await stopRedisCluster(dir);
  const { ports } = await freshCluster(dir, log);
  return {
    nodes: seeds(ports),
    ports,
    pids: ports.map((p) => pidOf(path.join(dir, String(p)))),
    reused: false,
    stop: () => stopRedisCluster(dir),
  };
}

/** Stops the cluster under `dir` (SIGTERM to each node, waits for them to exit); its files stay. */
export async function stopRedisCluster(dir) {
  dir = path.resolve(dir);
  const saved = readPorts(dir);
  const ports = saved?.ports ?? nodeDirs(dir).map(Number);
  await stopNodes(dir, ports);
}
