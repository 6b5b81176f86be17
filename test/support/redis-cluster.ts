import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, untilRedisReady } from './redis-server';

const LOG_DIR = path.resolve(__dirname, '..', '..', 'test-output', 'logs');
const HOST = '127.0.0.1';
const NODE_COUNT = 6;
const MASTER_COUNT = 3;
const SLOT_COUNT = 16384;

interface ClusterNode {
  port: number;
  busPort: number;
  child: ChildProcess | null;
  exited: Promise<void>;
}

/** A `CLUSTER SLOTS` entry: [start, end, [host, port, id, …] of the master, … the replicas]. */
type SlotRange = [number, number, [string, number, ...unknown[]], ...unknown[]];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `INFO` / `CLUSTER INFO` text as `{field: value}`. */
function fields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/**
 * A Redis Cluster of one fault test's own: 6 redis-server nodes (3 masters + 3 replicas,
 * cluster-node-timeout 2 s, AOF, `noeviction`) as child processes in a temp dir, so a test
 * can SIGKILL a master and watch its replica take over (about 3 s). `start()` resolves
 * only once every replica has synced with its master: a master killed before that leaves
 * the cluster failed for good. For tests that only need a cluster, `testEnv().redisClusterNodes`
 * (shared, started by `npm test`) is cheaper.
 */
export class RedisCluster {
  private readonly byPort = new Map<number, ClusterNode>();

  private constructor(
    readonly dir: string,
    readonly ports: number[],
    busPorts: number[],
  ) {
    ports.forEach((port, i) => this.byPort.set(port, { port, busPort: busPorts[i], child: null, exited: Promise.resolve() }));
  }

  static async start(): Promise<RedisCluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bgs-fault-redis-cluster-'));
    // Client ports and cluster bus ports, all distinct (`freePort` may hand out one twice). The bus
    // port is set explicitly: the default, port + 10000, may be taken or lie beyond 65535.
    const free = new Set<number>();
    while (free.size < NODE_COUNT * 2) free.add(await freePort());
    const all = [...free];
    const cluster = new RedisCluster(dir, all.slice(0, NODE_COUNT), all.slice(NODE_COUNT));
    try {
      await Promise.all(cluster.ports.map((port) => cluster.restart(port)));
      await cluster.create();
      await cluster.waitUntil(() => cluster.notReady(), 60_000, 'the cluster to be ready with every replica synced');
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** The seed nodes, `127.0.0.1:port,…` (as REDIS_CLUSTER_NODES takes them). */
  get nodes(): string {
    return this.ports.map((p) => `${HOST}:${p}`).join(',');
  }

  /** The ports of the nodes that run now. */
  get livePorts(): number[] {
    return this.ports.filter((p) => this.byPort.get(p)?.child);
  }

  /** Starts the node on `port` (again, after a kill: it rejoins from its nodes.conf and AOF); resolves once it serves commands. */
  async restart(port: number): Promise<void> {
    const node = this.node(port);
    if (node.child) throw new Error(`redis-server on ${port} is already running`);
    const nodeDir = path.join(this.dir, String(port));
    fs.mkdirSync(nodeDir, { recursive: true });
    const child = spawn(
      'redis-server',
      [
        '--bind', HOST, '--port', String(port), '--dir', nodeDir,
        '--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '--save', '',
        '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', '2000', '--cluster-port', String(node.busPort),
        '--logfile', '', '--daemonize', 'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    node.child = child;
    fs.mkdirSync(LOG_DIR, { recursive: true });
    const log = fs.createWriteStream(path.join(LOG_DIR, `redis-cluster-${port}.log`), { flags: 'a' });
    node.exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (node.child === child) node.child = null;
        log.end();
        resolve();
      }),
    );
    await untilRedisReady(child, log, `redis-server (cluster node) on ${port}`).catch((err: Error) => {
      node.child = null;
      throw err;
    });
  }

  /** Sends `signal` to the node on `port` (SIGKILL: a crash); resolves once it has exited. */
  async kill(port: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.node(port);
    const child = node.child;
    if (!child) return;
    child.kill(signal);
    await node.exited;
    node.child = null;
  }

  /** The port of the master that serves `key`'s slot now, as the live nodes see it. */
  async masterOf(key: string): Promise<number> {
    const port = this.livePorts[0];
    if (port === undefined) throw new Error('no cluster node is running');
    const slot = Number(await this.command(port, 'CLUSTER', 'KEYSLOT', key));
    const range = (await this.slots(port)).find(([start, end]) => slot >= start && slot <= end);
    if (!range) throw new Error(`no master serves slot ${slot} (key ${key}) according to ${HOST}:${port}`);
    return Number(range[2][1]);
  }

  /** Resolves once every replica has received everything its master has written (no write lost to a kill after this). */
  async waitForReplicas(timeoutMs = 10_000): Promise<void> {
    await this.waitUntil(async () => {
      for (const port of this.livePorts) {
        const info = fields(String(await this.command(port, 'INFO', 'replication')));
        if (info.role !== 'master') continue;
        const offset = Number(info.master_repl_offset);
        for (let i = 0; i < Number(info.connected_slaves ?? 0); i++) {
          const lag = offset - Number(/offset=(\d+)/.exec(info[`slave${i}`] ?? '')?.[1] ?? -1);
          if (lag !== 0) return `replica of ${port} is ${lag} bytes behind`;
        }
      }
      return null;
    }, timeoutMs, 'the replicas to catch up');
  }

  /**
   * Resolves once the cluster serves again without `killedPort`: every live node says
   * cluster_state:ok and lists all 16,384 slots on live masters (the killed one's slots on a
   * promoted replica).
   */
  async waitForFailover(killedPort: number, timeoutMs = 30_000): Promise<void> {
    await this.waitUntil(async () => {
      const live = this.livePorts.filter((p) => p !== killedPort);
      for (const port of live) {
        const state = fields(String(await this.command(port, 'CLUSTER', 'INFO'))).cluster_state;
        if (state !== 'ok') return `${port} says cluster_state:${state}`;
        let covered = 0;
        for (const [start, end, [, master]] of await this.slots(port)) {
          if (!live.includes(Number(master))) return `${port} still lists ${master} as the master of slots ${start}-${end}`;
          covered += end - start + 1;
        }
        if (covered !== SLOT_COUNT) return `${port} lists ${covered} slots served`;
      }
      return null;
    }, timeoutMs, `a replica to take over from ${killedPort}`);
  }

  /** Kills every node and removes the temp dir. */
  async stop(): Promise<void> {
    await Promise.all(this.ports.map((p) => this.kill(p, 'SIGKILL')));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // ---- internals -----------------------------------------------------------------------------

  private node(port: number): ClusterNode {
    const node = this.byPort.get(port);
    if (!node) throw new Error(`${port} is not a node of this cluster (${this.ports.join(', ')})`);
    return node;
  }

  /** One command on one node, over a connection of its own (no retries, no cluster redirects). */
  private async command(port: number, ...args: [string, ...(string | number)[]]): Promise<unknown> {
    const redis = new Redis({ host: HOST, port, lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    redis.on('error', () => undefined); // the failure reaches the caller through the command
    try {
      await redis.connect();
      return await redis.call(...args);
    } finally {
      redis.disconnect();
    }
  }

  private async slots(port: number): Promise<SlotRange[]> {
    return (await this.command(port, 'CLUSTER', 'SLOTS')) as SlotRange[];
  }

  /** `redis-cli --cluster create`, retried (after resetting the nodes) while a node is not ready for it. */
  private async create(): Promise<void> {
    let output = '';
    for (let attempt = 1; attempt <= 5; attempt++) {
      const args = ['--cluster', 'create', ...this.ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', '1', '--cluster-yes'];
      const { ok, text } = await new Promise<{ ok: boolean; text: string }>((resolve) =>
        execFile('redis-cli', args, { timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) =>
          resolve({ ok: !err, text: `${stdout}${stderr}`.replace(/\x1b\[[0-9;]*m/g, '') }),
        ),
      );
      output = text;
      if (ok && output.includes('[OK] All 16384 slots covered')) return;
      for (const port of this.ports) {
        await this.command(port, 'FLUSHALL').catch(() => undefined);
        await this.command(port, 'CLUSTER', 'RESET', 'HARD').catch(() => undefined);
      }
      await sleep(500 * attempt);
    }
    throw new Error(`redis-cli --cluster create failed 5 times; its last output:\n${output.trim()}\n(node logs: ${LOG_DIR}/redis-cluster-<port>.log)`);
  }

  /** What the cluster still lacks to serve and survive a master's loss, or null. */
  private async notReady(): Promise<string | null> {
    let masters = 0;
    for (const port of this.ports) {
      const info = fields(String(await this.command(port, 'CLUSTER', 'INFO')));
      if (info.cluster_state !== 'ok') return `${port} says cluster_state:${info.cluster_state}`;
      if (Number(info.cluster_known_nodes) !== NODE_COUNT) return `${port} knows ${info.cluster_known_nodes} nodes`;
      const repl = fields(String(await this.command(port, 'INFO', 'replication')));
      if (repl.role === 'master') masters++;
      else if (repl.master_link_status !== 'up') return `replica ${port} says master_link_status:${repl.master_link_status}`;
    }
    return masters === MASTER_COUNT ? null : `${masters} masters`;
  }

  /** Polls `missing` (what is not there yet, or null) until null; the timeout error says what was missing last. */
  private async waitUntil(missing: () => Promise<string | null>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: string | null = 'not checked yet';
    while (Date.now() < deadline) {
      last = await missing().catch((err: Error) => err.message);
      if (last === null) return;
      await sleep(100);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${last} (node logs: ${LOG_DIR}/redis-cluster-<port>.log)`);
  }
}
