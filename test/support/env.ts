/** What `npm test` (or the jest global setup) prepared: see scripts/lib/test-env.mjs. */
export function testEnv() {
  const need = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: run the tests with \`npm test\``);
    return value;
  };
  return {
    pgAdminUrl: need('TEST_PG_ADMIN_URL'),
    templateDb: need('TEST_TEMPLATE_DB'),
    redisUrl: need('TEST_REDIS_URL'),
    /** Seed nodes (`127.0.0.1:port,…`) of the shared test Redis Cluster; throws only when read and not set. */
    get redisClusterNodes(): string {
      return need('TEST_REDIS_CLUSTER_NODES');
    },
  };
}

export const TEST_AUTH_SECRET = 'test-secret-with-enough-length-0123456789';
