// Bundles each process into dist/ with esbuild: tsconfig paths resolved, npm packages left external.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const nodeEntries = {
  'api/main': 'apps/api/src/main.ts',
  'worker/main': 'apps/worker/src/main.ts',
  'tools/migrate': 'libs/server/src/db/migrate-cli.ts',
};

export async function buildAll(log = console.log) {
  const esbuild = await import('esbuild');
  const started = Date.now();
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(nodeEntries).map(([out, src]) => [out, path.join(root, src)])),
    outdir: path.join(root, 'dist'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    sourcemap: true,
    tsconfig: path.join(root, 'tsconfig.base.json'),
    logLevel: 'warning',
  });
  log(`built dist/ in ${Date.now() - started} ms`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildAll().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
