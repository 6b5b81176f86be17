import { Client, Pool } from 'pg';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/database';
import { testEnv } from '../../../../test/support/env';
import { isDatabaseUnavailable } from './database';
import { Prisma } from './generated/client';
import { sqlOnPool, type Sql, type SqlRunner } from './sql';

/**
 * A transaction's connection ended by Postgres (a restart, `pg_ctl stop -m fast`, an
 * administrator's `pg_terminate_backend`): the transaction fails with a "database
 * unavailable" error and the process lives on. pg's client emits `error` when its
 * connection ends, and a pool leaves a client it has handed out without a listener: an
 * unlistened `error` is an uncaught exception, which is what took a worker down when
 * Postgres stopped under its notification sweep.
 */
describe('sql transactions whose connection Postgres ends', () => {
  let testDb: TestDatabase;
  let pool: Pool;
  let sql: Sql;
  let admin: Client;
  const uncaught: Error[] = [];
  const onUncaught = (err: Error) => uncaught.push(err);

  beforeAll(async () => {
    testDb = await createTestDatabase();
    admin = new Client({ connectionString: testEnv().pgAdminUrl });
    await admin.connect();
  });
  beforeEach(() => {
    pool = new Pool({ connectionString: testDb.url, max: 2 });
    pool.on('error', () => undefined); // as databaseOnPool does: idle clients are the pool's to replace
    sql = sqlOnPool(pool);
    uncaught.length = 0;
    process.on('uncaughtException', onUncaught);
  });
  afterEach(async () => {
    process.off('uncaughtException', onUncaught);
    await pool.end();
  });
  afterAll(async () => {
    await admin.end();
    await testDb.drop();
  });

  const backendPid = async (tx: SqlRunner) => (await tx.query<{ pid: number }>(Prisma.sql`SELECT pg_backend_pid() AS pid`))[0].pid;
  const terminate = (pid: number) => admin.query('SELECT pg_terminate_backend($1, 5000)', [pid]);
  const failureOf = (promise: Promise<unknown>) => promise.then(() => null, (e: Error) => e);
  /** A few turns of the event loop: the connection's end and its `error` have been handled. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

  it('ended between two statements (the transaction waits on something else): the transaction fails, nothing is thrown out of band', async () => {
    const outcome = sql.transaction(async (tx) => {
      const pid = await backendPid(tx);
      await terminate(pid); // as the sweep's push to Redis: the connection idles in its transaction
      await settle();
      return tx.query(Prisma.sql`SELECT 1 AS one`);
    });
    const err = await failureOf(outcome);
    await settle();
    expect(uncaught).toEqual([]);
    expect(err).not.toBeNull();
    expect(isDatabaseUnavailable(err)).toBe(true);
    // The broken connection was not given back: the next transaction gets a working one.
    expect(await sql.transaction((tx) => tx.query<{ one: number }>(Prisma.sql`SELECT 1 AS one`))).toEqual([{ one: 1 }]);
  });

  it('ended while a statement runs: the statement and the transaction fail, nothing is thrown out of band', async () => {
    const outcome = sql.transaction(async (tx) => {
      const pid = await backendPid(tx);
      const sleeping = tx.query(Prisma.sql`SELECT pg_sleep(5)`);
      await terminate(pid);
      return sleeping;
    });
    const err = await failureOf(outcome);
    await settle();
    expect(uncaught).toEqual([]);
    expect(isDatabaseUnavailable(err)).toBe(true);
    expect(await sql.query<{ one: number }>(Prisma.sql`SELECT 1 AS one`)).toEqual([{ one: 1 }]);
  });
});
