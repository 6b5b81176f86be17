import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * `npm test` prepares the services and passes TEST_* variables. When jest is run
 * directly, do the same preparation here so a single test file can be run alone.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_PG_ADMIN_URL && process.env.TEST_REDIS_URL && process.env.TEST_REDIS_CLUSTER_NODES) return;
  const root = path.resolve(__dirname, '..', '..');
  const script = `
    const { build, ensurePrismaClient } = await import('./scripts/lib/bootstrap.mjs');
    const { prepareTestEnvironment } = await import('./scripts/lib/test-env.mjs');
    const log = (m) => console.error(m);
    ensurePrismaClient(log);
    await build(log);
    console.log(JSON.stringify(await prepareTestEnvironment(log)));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  Object.assign(process.env, JSON.parse(out.trim().split('\n').pop() as string));
}
