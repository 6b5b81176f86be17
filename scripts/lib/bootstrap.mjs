// Makes a fresh clone runnable: npm dependencies and the generated Prisma client.
// Plain Node with no dependencies, so it runs before `npm ci`.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function sha(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Runs `npm ci` when node_modules is missing or older than the lockfile. */
export function ensureDependencies(log = console.log) {
  const lock = path.join(repoRoot, 'package-lock.json');
  const stamp = path.join(repoRoot, 'node_modules', '.bgs-lock-sha');
  const wanted = sha(lock);
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === wanted) return;
  log('installing npm dependencies (npm ci)…');
  execFileSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: repoRoot, stdio: 'inherit' });
  fs.writeFileSync(stamp, wanted);
}

/**
 * Generates the Prisma client when the schema changed. The CLI's schema engine download
 * is not needed for `generate` (it is wasm), so any executable stands in for it.
 */
export function ensurePrismaClient(log = console.log) {
  const schema = path.join(repoRoot, 'prisma', 'schema.prisma');
  const outDir = path.join(repoRoot, 'libs', 'server', 'src', 'db', 'generated');
  const stamp = path.join(outDir, '.schema-sha');
  const wanted = sha(schema);
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === wanted) return;
  log('generating the Prisma client…');
  execFileSync(path.join(repoRoot, 'node_modules', '.bin', 'prisma'), ['generate'], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
    // CHECKPOINT_DISABLE: the CLI would otherwise phone home (telemetry) from an offline machine.
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? '/bin/true', PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' },
  });
  fs.writeFileSync(stamp, wanted);
}

/** Bundles the apps with esbuild (see scripts/build.mjs). */
export async function build(log = console.log) {
  const { buildAll } = await import('../build.mjs');
  await buildAll(log);
}

/** Applies committed migrations with the bundled runner. */
export function migrate(databaseUrl) {
  execFileSync(process.execPath, [path.join(repoRoot, 'dist', 'tools', 'migrate.js')], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DATABASE_URL: databaseUrl },
  });
}
