import { Cluster, type ClusterNode } from 'ioredis';
import { testEnv } from '../support/env';
import { RedisCluster } from '../support/redis-cluster';

/** An ioredis Cluster client on seed nodes given as `host:port,…`. */
function clusterClient(seeds: string): Cluster {
  const nodes: ClusterNode[] = seeds.split(',').map((s) => ({ host: s.slice(0, s.lastIndexOf(':')), port: Number(s.slice(s.lastIndexOf(':') + 1)) }));
  return new Cluster(nodes, { redisOptions: { connectTimeout: 2000 }, clusterRetryStrategy: () => 200 });
}

/** The harness itself: the shared test cluster answers, and a fault test's own cluster fails over. */
describe('Redis Cluster harness', () => {
  it('npm test passes the shared test cluster (3 masters + 3 replicas) as TEST_REDIS_CLUSTER_NODES', async () => {
    const seeds = testEnv().redisClusterNodes;
    expect(seeds.split(',')).toHaveLength(6);
    const client = clusterClient(seeds);
    try {
      const key = `harness:{${process.pid}}:shared`;
      await client.set(key, 'shared', 'EX', 60);
      expect(await client.get(key)).toBe('shared');
      const roles = String(await client.call('CLUSTER', 'NODES'))
        .trim()
        .split('\n')
        .map((line) => (line.split(' ')[2].includes('master') ? 'master' : 'replica'));
      expect(roles.sort()).toEqual(['master', 'master', 'master', 'replica', 'replica', 'replica']);
    } finally {
      client.disconnect();
    }
  });

  describe('a cluster of its own', () => {
    let cluster: RedisCluster;
    let client: Cluster | null = null;

    beforeAll(async () => {
      cluster = await RedisCluster.start();
    });
    afterAll(async () => {
      client?.disconnect();
      await cluster?.stop();
    });

    it('a SIGKILLed master is replaced by its replica, and its keys stay readable', async () => {
      expect(cluster.ports).toHaveLength(6);
      expect(cluster.nodes).toBe(cluster.ports.map((p) => `127.0.0.1:${p}`).join(','));
      const key = 'harness:{failover}:key';
      const master = await cluster.masterOf(key);
      // Seed on a node that stays up, so the client needs nothing from the killed one to start.
      const seed = cluster.ports.find((p) => p !== master) as number;
      client = clusterClient(`127.0.0.1:${seed}`);
      await client.set(key, 'survives');
      await cluster.waitForReplicas();

      const killedAt = Date.now();
      await cluster.kill(master, 'SIGKILL');
      await cluster.waitForFailover(master);
      const tookMs = Date.now() - killedAt;

      const promoted = await cluster.masterOf(key);
      expect(promoted).not.toBe(master);
      expect(cluster.livePorts).toContain(promoted);
      expect(await client.get(key)).toBe('survives');
      // And a client that starts now, on every seed (the dead one included), finds the new layout.
      const fresh = clusterClient(cluster.nodes);
      try {
        expect(await fresh.get(key)).toBe('survives');
      } finally {
        fresh.disconnect();
      }
      expect(tookMs).toBeLessThan(30_000);
      console.log(`failover from ${master} to ${promoted} took ${tookMs} ms`);
    });
  });
});
