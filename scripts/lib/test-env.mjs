// The services `npm test` uses: the local Postgres cluster (a migrated template database
// that each test file clones), a Redis server of its own, apart from `npm start`'s, and a
// Redis Cluster (3 masters + 3 replicas) shared by the tests that run on one.
// Safe to run from several shells at once: the template is named after the migrations
// it holds, and only test databases older than a day are cleaned up.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ensurePostgres, ensureRedis } from './services.mjs';
import { ensureRedisCluster } from './redis-cluster.mjs';
import { migrate, repoRoot } from './bootstrap.mjs';

const STALE_AFTER_S = 24 * 3600;

function migrationsHash() {
  const dir = path.join(repoRoot, 'prisma', 'migrations');
  const hash = createHash('sha256');
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name, 'migration.sql');
    if (fs.existsSync(file)) hash.update(name).update(fs.readFileSync(file));
  }
  return hash.digest('hex').slice(0, 12);
}

/** Returns the env vars test helpers read (TEST_*). Requires dist/ to be built. */
export async function prepareTestEnvironment(log = console.log) {
  const dataDir = path.join(repoRoot, '.data');
  const pg = await ensurePostgres(dataDir, log);
  const redis = await ensureRedis(path.join(dataDir, 'redis-test'), log);
  // Reused while it runs, like the test Redis; tests that kill a node start their own (test/support/redis-cluster.ts).
  const cluster = await ensureRedisCluster(path.join(dataDir, 'redis-cluster-test'), log);
  const psql = (sql) => execFileSync(pg.psql, [pg.url('postgres'), '-v', 'ON_ERROR_STOP=1', '-tAc', sql], { encoding: 'utf8' }).trim();
  const template = `bgs_test_template_${migrationsHash()}`;
  const now = Math.floor(Date.now() / 1000);
  const existing = psql(`SELECT datname FROM pg_database WHERE datname LIKE 'bgs\\_t\\_%' OR datname LIKE 'bgs\\_test\\_template\\_%'`).split('\n').filter(Boolean);
  for (const name of existing) {
    const created = Number(/^bgs_t_(\d+)_/.exec(name)?.[1] ?? now);
    const staleTemplate = name.startsWith('bgs_test_template_') && name !== template && !name.includes('_tmp');
    if (staleTemplate || now - created > STALE_AFTER_S) psql(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }
  if (!existing.includes(template)) {
    const building = `${template}_tmp${process.pid}`;
    psql(`CREATE DATABASE "${building}"`);
    migrate(pg.url(building));
    try {
      psql(`ALTER DATABASE "${building}" RENAME TO "${template}"`);
    } catch {
      psql(`DROP DATABASE IF EXISTS "${building}"`); // another run made the template first
    }
  }
  return {
    TEST_PG_ADMIN_URL: pg.url('postgres'),
    TEST_TEMPLATE_DB: template,
    TEST_REDIS_URL: redis.url,
    TEST_REDIS_CLUSTER_NODES: cluster.nodes,
    TEST_PG_ROOT: pg.root,
  };
}
