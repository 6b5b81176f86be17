import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Every import specifier of the non-generated TypeScript files under `dir`. */
function importsUnder(dir: string): Array<{ file: string; spec: string }> {
  const found: Array<{ file: string; spec: string }> = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'generated' && entry.name !== 'node_modules') walk(full);
      } else if (entry.name.endsWith('.ts')) {
        const text = fs.readFileSync(full, 'utf8');
        for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) found.push({ file: path.relative(ROOT, full), spec: m[1] });
        for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push({ file: path.relative(ROOT, full), spec: m[1] ?? m[2] });
      }
    }
  };
  walk(path.join(ROOT, dir));
  return found;
}

const resolvesInto = (file: string, spec: string, target: string) =>
  spec.startsWith('.') && path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec)).startsWith(target);

/** The tree enforces the architecture: the folders' story is only true if imports follow it. */
describe('module boundaries', () => {
  it('apps never import each other', () => {
    const crossing = [
      ...importsUnder('apps/api/src').filter((i) => resolvesInto(i.file, i.spec, 'apps/worker')),
      ...importsUnder('apps/worker/src').filter((i) => resolvesInto(i.file, i.spec, 'apps/api')),
    ];
    expect(crossing).toEqual([]);
  });

  it('libs/shared imports nothing server-side: only zod and its own files', () => {
    const bad = importsUnder('libs/shared/src').filter((i) => !i.file.endsWith('.spec.ts') && !i.spec.startsWith('./') && i.spec !== 'zod');
    expect(bad).toEqual([]);
  });

  it('libs/shared/browser and libs/client load no zod, no Node built-in, nothing server-side', () => {
    const browserFiles = ['libs/shared/src/browser.ts', 'libs/shared/src/api-types.ts', 'libs/shared/src/errors.ts', 'libs/shared/src/events.ts', 'libs/shared/src/resume-rule.ts', 'libs/shared/src/sse-parser.ts'];
    const shared = importsUnder('libs/shared/src').filter((i) => browserFiles.includes(i.file));
    expect(shared.filter((i) => !i.spec.startsWith('./'))).toEqual([]);
    const client = importsUnder('libs/client/src').filter((i) => !i.file.endsWith('.spec.ts'));
    const allowed = (spec: string) => spec.startsWith('./') || spec === '@bgs/shared/browser' || spec.startsWith('socket.io-client');
    expect(client.filter((i) => !allowed(i.spec) || NODE_BUILTINS.has(i.spec))).toEqual([]);
  });

  it('libs never import apps, and libs/server never imports libs/client', () => {
    const bad = [...importsUnder('libs/shared/src'), ...importsUnder('libs/server/src'), ...importsUnder('libs/client/src')].filter(
      (i) => i.spec.includes('apps/') || (i.file.startsWith('libs/server') && i.spec.startsWith('@bgs/client')),
    );
    expect(bad).toEqual([]);
  });

  it('the worker and libs/server reach Postgres without Prisma: the worker never loads its query compiler (about 100 MiB)', () => {
    const prismaUses: string[] = [];
    for (const dir of ['apps/worker/src', 'libs/server/src']) {
      const walk = (d: string) => {
        for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
          const full = path.join(d, entry.name);
          const file = path.relative(ROOT, full);
          if (entry.isDirectory()) {
            if (entry.name !== 'generated') walk(full);
          } else if (/(?<!\.(spec|int))\.ts$/.test(entry.name) && file !== 'libs/server/src/db/database.ts') {
            const text = fs.readFileSync(full, 'utf8');
            // Any query through the Prisma client (model delegates, $queryRaw, $transaction…) loads the compiler.
            for (const m of text.matchAll(/\bprisma\.\$?\w+|\$(queryRaw|executeRaw|transaction)\w*/g)) prismaUses.push(`${file}: ${m[0]}`);
          }
        }
      };
      walk(path.join(ROOT, dir));
    }
    expect(prismaUses).toEqual([]);
  });
});
