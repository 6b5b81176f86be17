import type { ConnectionOptions } from 'bullmq';
import type { RedisTarget } from '@bgs/shared';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export { Cluster, Redis };

/** A connection to the one Redis server, or to a Redis Cluster: chosen by the target. */
export type RedisClient = Redis | Cluster;

/** Redis Cluster routes by hash slot; one server has one "slot" for every key. */
export const isCluster = (redis: RedisClient): redis is Cluster => (redis as Cluster).isCluster === true;

const retryStrategy = (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2_000);

/** A failover takes about 3 s: commands sent meanwhile wait and follow the new master. */
const CLUSTER_OPTIONS = {
  retryDelayOnFailover: 200,
  retryDelayOnClusterDown: 300,
  retryDelayOnTryAgain: 200,
  clusterRetryStrategy: retryStrategy,
  slotsRefreshTimeout: 2_000,
};

/**
 * An ioredis connection as BullMQ wants it (`maxRetriesPerRequest: null`), reconnecting
 * forever with a capped backoff so a Redis restart heals without a process restart.
 * `failFast` connections give up on a command at once while Redis is down (HTTP paths
 * answer 503 instead of hanging). On a cluster, `shardedSubscribers` keeps one subscriber
 * per shard, where sharded pub/sub (SSUBSCRIBE) must be read.
 */
export function createRedis(target: RedisTarget, options: { name: string; failFast?: boolean } & RedisOptions): RedisClient {
  const { name, failFast, ...rest } = options;
  const redisOptions: RedisOptions = {
    connectionName: name,
    maxRetriesPerRequest: failFast ? 1 : null,
    enableOfflineQueue: !failFast,
    retryStrategy,
    ...rest,
  };
  let redis: RedisClient;
  if (target.kind === 'server') redis = new Redis(target.url, redisOptions);
  else {
    // The cluster reconnects its nodes itself; what it takes per node is the rest.
    const { retryStrategy: _perNode, enableOfflineQueue, enableAutoPipelining, ...nodeOptions } = redisOptions;
    redis = new Cluster(target.nodes, { ...CLUSTER_OPTIONS, redisOptions: nodeOptions, enableOfflineQueue, enableAutoPipelining, shardedSubscribers: true });
  }
  // Without a listener ioredis prints every failed reconnect to stderr; the commands that
  // fail meanwhile reject to their callers, which log them with context.
  redis.on('error', () => undefined);
  return redis;
}

/** Closes a connection, politely if it is up; safe to call twice. */
export async function closeRedis(redis: RedisClient): Promise<void> {
  if (redis.status === 'end') return;
  try {
    if (redis.status === 'ready') await redis.quit();
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
}

/** A connection for one BullMQ object, and how to close what BullMQ does not close itself. */
export interface BullConnection {
  connection: ConnectionOptions;
  close(): Promise<void>;
}

/**
 * Connection options for BullMQ. On one server BullMQ opens (and closes) its own
 * connections from options; on a cluster it needs a `Cluster` instance, which it
 * duplicates for blocking reads but leaves to us to close.
 */
export function bullConnection(target: RedisTarget, options: { failFast?: boolean } = {}): BullConnection {
  const failFast = options.failFast ? { enableOfflineQueue: false } : {};
  if (target.kind === 'server') {
    return { connection: { url: target.url, maxRetriesPerRequest: null, retryStrategy, ...failFast }, close: async () => undefined };
  }
  const cluster = new Cluster(target.nodes, { ...CLUSTER_OPTIONS, redisOptions: { maxRetriesPerRequest: null }, ...failFast });
  cluster.on('error', () => undefined);
  return { connection: cluster, close: () => closeRedis(cluster) };
}
