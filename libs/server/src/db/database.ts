import { PrismaPg } from '@prisma/adapter-pg';
import { Pool } from 'pg';
import { PrismaClient } from './generated/client';
import { sqlOnPool, type Sql } from './sql';

export { PrismaClient, Prisma } from './generated/client';
export type { Thread as ThreadRow, Message as MessageRow, Stream as StreamRow, Notification as NotificationRow } from './generated/client';

export interface Database {
  prisma: PrismaClient;
  /** The same pool without Prisma: what the worker (and every stream's start and end) uses. */
  sql: Sql;
  pool: Pool;
  close(): Promise<void>;
}

/** A Prisma client over a pg pool of at most `max` connections. */
export function createDatabase(connectionString: string, options: { max?: number } = {}): Database {
  return databaseOnPool(new Pool({ connectionString, max: options.max ?? 10, idleTimeoutMillis: 30_000 }));
}

/** A Prisma client over a pool the caller made (tests count the statements its connections send). */
export function databaseOnPool(pool: Pool): Database {
  // An idle client's error (Postgres restarted) must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  let closing: Promise<void> | null = null;
  return {
    prisma,
    sql: sqlOnPool(pool),
    pool,
    close: () => (closing ??= prisma.$disconnect().then(() => pool.end()).catch(() => undefined)),
  };
}

/**
 * True for errors that mean "Postgres is unreachable or saturated right now", worth a
 * 503 and a retry: connection failures, and a pool too busy to start a transaction.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const text = `${(err as { code?: string })?.code ?? ''} ${(err as Error)?.message ?? ''}`;
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|57P01|57P03|53300|08\d\d\d|terminating connection|Connection terminated|connect ECONN|Can't reach database|timeout exceeded when trying to connect|DatabaseNotReachable|P1001|P1017|P2024|P2028|Unable to start a transaction|not queryable/i.test(
    text,
  );
}
