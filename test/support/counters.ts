import { Pool, type PoolClient } from 'pg';
import { databaseOnPool, type Database } from '@bgs/server';

/**
 * A database whose connections count every statement they send, so "no query per
 * token" is a number a test reads, not a promise.
 */
export function countingDatabase(url: string): Database & { statements(): number } {
  const pool = new Pool({ connectionString: url, max: 10 });
  let count = 0;
  pool.on('connect', (client: PoolClient) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      count++;
      return query(...args);
    };
  });
  return { ...databaseOnPool(pool), statements: () => count };
}

/** Wraps a Redis connection so every command it sends is recorded by name (one round trip each: no pipelines here). */
export function recordCommands(redis: { sendCommand: (command: never) => unknown }): string[] {
  const names: string[] = [];
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: { name: string }) => {
    names.push(command.name);
    return send(command as never);
  }) as typeof redis.sendCommand;
  return names;
}
