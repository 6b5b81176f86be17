// The services `npm test` uses: the local Postgres cluster (a migrated template database
// that each test file clones) and a Redis server of its own, apart from `npm start`'s.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ensurePostgres, ensureRedis } from './services.mjs';
import { migrate, repoRoot } from './bootstrap.mjs';

export const TEMPLATE_DB = 'bgs_test_template';

/** Returns the env vars test helpers read (TEST_*). Requires dist/ to be built. */
export async function prepareTestEnvironment(log = console.log) {
  const dataDir = path.join(repoRoot, '.data');
  const pg = await ensurePostgres(dataDir, log);
  const redis = await ensureRedis(path.join(dataDir, 'redis-test'), log);
  const psql = (sql) => execFileSync(pg.psql, [pg.url('postgres'), '-v', 'ON_ERROR_STOP=1', '-tAc', sql], { encoding: 'utf8' }).trim();
  // Databases left by an interrupted run, then a fresh template.
  const stale = psql(`SELECT datname FROM pg_database WHERE datname LIKE 'bgs\\_t\\_%' OR datname = '${TEMPLATE_DB}'`);
  for (const name of stale.split('\n').filter(Boolean)) psql(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  psql(`CREATE DATABASE "${TEMPLATE_DB}"`);
  migrate(pg.url(TEMPLATE_DB));
  return {
    TEST_PG_ADMIN_URL: pg.url('postgres'),
    TEST_TEMPLATE_DB: TEMPLATE_DB,
    TEST_REDIS_URL: redis.url,
    TEST_PG_ROOT: pg.root,
  };
}
