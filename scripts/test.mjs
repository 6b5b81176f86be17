// `npm test`: the same set-up as `npm start` (dependencies, Prisma client, build, local
// services) plus Chromium for the e2e tests, then the type check and every jest project.
// Extra args go to jest.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { build, ensureDependencies, ensurePrismaClient, repoRoot } from './lib/bootstrap.mjs';
import { ensureDebianPackage } from './lib/services.mjs';
import { prepareTestEnvironment } from './lib/test-env.mjs';

const log = (m) => console.log(`[test] ${m}`);

async function main() {
  ensureDependencies(log);
  ensurePrismaClient(log);
  await build(log);
  const testEnv = await prepareTestEnvironment(log);
  // The e2e tests drive the demo page in Debian's Chromium (no browser download).
  ensureDebianPackage('chromium', 'chromium', log);
  const env = { ...process.env, ...testEnv };
  const bin = (name) => path.join(repoRoot, 'node_modules', '.bin', name);
  const jestArgs = process.argv.slice(2);
  if (jestArgs.length === 0) {
    log('type check (tsc --noEmit)…');
    const tsc = spawnSync(bin('tsc'), ['-p', 'tsconfig.json', '--noEmit'], { cwd: repoRoot, stdio: 'inherit' });
    if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  }
  const ci = process.env.CI ? ['--ci'] : [];
  const jest = spawnSync(bin('jest'), [...ci, ...jestArgs], { cwd: repoRoot, stdio: 'inherit', env });
  process.exit(jest.status ?? 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
