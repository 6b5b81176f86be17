import type { Pool, PoolClient } from 'pg';
import { Prisma } from './generated/client';

/** Runs statements built with `Prisma.sql` (values sent as parameters, never spliced in). */
export interface SqlRunner {
  /**
   * The rows the statement returns. `preparedAs` names a statement whose text never
   * changes (batches pass arrays, not `VALUES` lists): each connection then parses and
   * plans it once instead of on every call.
   */
  query<T>(statement: Prisma.Sql, preparedAs?: string): Promise<T[]>;
  /** How many rows the statement changed. */
  execute(statement: Prisma.Sql): Promise<number>;
}

export interface Sql extends SqlRunner {
  /**
   * Runs `work` in one transaction on one connection: BEGIN, then COMMIT, or ROLLBACK when
   * it throws. A transaction left idle past `idleTimeoutMs` (its work waits on something
   * that hangs) is ended by Postgres, and its locks are given back.
   */
  transaction<T>(work: (tx: SqlRunner) => Promise<T>, options?: { idleTimeoutMs?: number }): Promise<T>;
}

/** `ms` milliseconds before the statement's `now()`, for "older than" conditions. */
export const msAgo = (ms: number): Prisma.Sql => Prisma.sql`now() - make_interval(secs => ${ms / 1000}::float8)`;

const runnerOn = (db: Pool | PoolClient): SqlRunner => ({
  query: async <T>(statement: Prisma.Sql, preparedAs?: string) =>
    (await db.query({ name: preparedAs, text: statement.text, values: statement.values as unknown[] })).rows as T[],
  execute: async (statement: Prisma.Sql) => (await db.query(statement.text, statement.values)).rowCount ?? 0,
});

/**
 * SQL straight on the pg pool, for the hot paths of a stream's life: no Prisma client in
 * between, whose first query (raw or not) loads its query compiler, about 100 MiB of
 * memory per process, and costs CPU on every statement. The worker uses only this.
 */
export function sqlOnPool(pool: Pool): Sql {
  return {
    ...runnerOn(pool),
    async transaction(work, options = {}) {
      const client = await pool.connect();
      // pg's client emits `error` when Postgres ends its connection (a restart, a
      // termination), even in the middle of a statement, and a pool hands clients out
      // without a listener: unlistened, that is an uncaught exception. The statements
      // fail on their own; the connection is only marked not to be reused.
      let broken = false;
      const onConnectionError = () => (broken = true);
      client.on('error', onConnectionError);
      try {
        // One round trip for both: a multi-statement query without parameters.
        await client.query(`BEGIN; SET LOCAL idle_in_transaction_session_timeout = ${Math.round(options.idleTimeoutMs ?? 10_000)}`);
        const result = await work(runnerOn(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => (broken = true));
        throw err;
      } finally {
        // A connection that could not even roll back is not given to anyone else.
        client.off('error', onConnectionError);
        client.release(broken);
      }
    },
  };
}
