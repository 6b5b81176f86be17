// The `cluster` jest project's setup: the suites it runs use the shared test Redis Cluster.
process.env.TEST_ON_REDIS_CLUSTER = '1';
