import path from 'node:path';
import { applyMigrations } from './migrate';

// `node dist/tools/migrate.js`: applies prisma/migrations to DATABASE_URL.
async function main() {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const dir = process.env.MIGRATIONS_DIR ?? path.resolve(__dirname, '..', '..', 'prisma', 'migrations');
  const result = await applyMigrations(url, dir);
  const applied = result.applied.length ? result.applied.join(', ') : 'none';
  console.log(`migrations: applied ${applied}; ${result.alreadyApplied.length} already applied`);
}

main().catch((err) => {
  console.error(`migration failed: ${(err as Error).message}`);
  process.exit(1);
});
