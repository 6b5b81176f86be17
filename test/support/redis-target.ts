import type { RedisTarget } from '@bgs/shared';
import { testEnv } from './env';

/**
 * Whether this test file runs on the shared test Redis Cluster: the `cluster` jest project
 * runs the generation and notification suites again, unchanged, with this set.
 */
export const onRedisCluster = (): boolean => process.env.TEST_ON_REDIS_CLUSTER === '1';

function clusterNodes(): string {
  const nodes = process.env.TEST_REDIS_CLUSTER_NODES;
  if (!nodes) throw new Error('TEST_REDIS_CLUSTER_NODES is not set: run the tests with `npm test`');
  return nodes;
}

/** The Redis the suites' own connections use. */
export function testRedisTarget(): RedisTarget {
  if (!onRedisCluster()) return { kind: 'server', url: testEnv().redisUrl };
  return {
    kind: 'cluster',
    nodes: clusterNodes().split(',').map((n) => ({ host: n.slice(0, n.lastIndexOf(':')), port: Number(n.slice(n.lastIndexOf(':') + 1)) })),
  };
}

/** The same, as the processes under test read it from their environment. */
export function testRedisEnv(): Record<string, string> {
  return onRedisCluster() ? { REDIS_CLUSTER_NODES: clusterNodes() } : { REDIS_URL: testEnv().redisUrl };
}
