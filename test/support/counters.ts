import { Pool, type PoolClient } from 'pg';
import { databaseOnPool, type Database } from '@bgs/server';

/**
 * A database whose connections count every statement they send, so "no query per
 * token" is a number a test reads, not a promise.
 */
export function countingDatabase(url: string): Database & { statements(): number; sent(): SentStatement[] } {
  const pool = new Pool({ connectionString: url, max: 10 });
  const sent: SentStatement[] = [];
  pool.on('connect', (client: PoolClient) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      const statement = args[0] as string | { name?: string; text: string };
      sent.push(typeof statement === 'string' ? { text: statement } : { name: statement.name, text: statement.text });
      return query(...args);
    };
  });
  return { ...databaseOnPool(pool), statements: () => sent.length, sent: () => [...sent] };
}

/** A statement as pg was given it: a prepared one has a name (parsed and planned once per connection). */
export interface SentStatement {
  name?: string;
  text: string;
}

/** The one text every statement sent under `name` had (the batches of a group commit must not change it). */
export function preparedText(sent: SentStatement[], name: string): string {
  const texts = new Set(sent.filter((s) => s.name === name).map((s) => s.text));
  expect({ name, texts: texts.size }).toEqual({ name, texts: 1 });
  return [...texts][0];
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
