import { isCluster, type RedisClient } from './connection';
import { TERMINAL_STREAM_STATUSES } from '@bgs/shared';

/**
 * What scripts may use, prepended to those that name it (the frame script names neither,
 * so the hot path pays nothing): `TERMINAL`, the terminal stream statuses from the one
 * constant the TypeScript side checks with, and `keep_at_least`, which only ever lengthens
 * a key's TTL (an instance with a shorter TTL, during a rolling config change, must not
 * cut another instance's entries short).
 */
const PRELUDE: Record<string, string> = {
  TERMINAL: `local TERMINAL = {${TERMINAL_STREAM_STATUSES.map((s) => `['${s}'] = true`).join(', ')}}`,
  keep_at_least: `local function keep_at_least(key, ttl) if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end end`,
};

const withPrelude = (source: string) =>
  [...Object.entries(PRELUDE).filter(([name]) => source.includes(name)).map(([, lua]) => lua), source].join('\n');

/** A script from a `.lua` file, registered under `name`; `numberOfKeys` unset: the caller passes it first. */
export interface LuaCommand {
  name: string;
  source: string;
  numberOfKeys?: number;
}

/**
 * Registers scripts on a connection, once however many stores share it. ioredis then
 * sends EVALSHA, and EVAL only when Redis does not know the script (after a restart).
 */
export function withLuaCommands<Client extends RedisClient, Commands>(redis: Client, commands: readonly LuaCommand[]): Client & Commands {
  for (const { name, source, numberOfKeys } of commands) {
    if (name in redis) continue;
    redis.defineCommand(name, { lua: withPrelude(source), ...(numberOfKeys === undefined ? {} : { numberOfKeys }) });
    // Auto-pipelining on a cluster routes a script by its first argument, which is the key
    // count when the caller passes it: such scripts go out on their own, to their keys' node.
    if (numberOfKeys === undefined && isCluster(redis)) redis.options.autoPipeliningIgnoredCommands = [...(redis.options.autoPipeliningIgnoredCommands ?? []), name];
  }
  return redis as Client & Commands;
}
