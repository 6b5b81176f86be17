import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';

export { Redis };

/**
 * An ioredis connection as BullMQ wants it (`maxRetriesPerRequest: null`), reconnecting
 * forever with a capped backoff so a Redis restart heals without a process restart.
 * `failFast` connections give up on a command at once while Redis is down (HTTP paths
 * answer 503 instead of hanging).
 */
export function createRedis(url: string, options: { name: string; failFast?: boolean } & RedisOptions): Redis {
  const { name, failFast, ...rest } = options;
  const redis = new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: failFast ? 1 : null,
    enableOfflineQueue: !failFast,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
    ...rest,
  });
  // Without a listener ioredis prints every failed reconnect to stderr; the commands that
  // fail meanwhile reject to their callers, which log them with context.
  redis.on('error', () => undefined);
  return redis;
}

/** Closes a connection, politely if it is up; safe to call twice. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    if (redis.status === 'ready') await redis.quit();
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
}

/** Connection options for BullMQ from a URL, so each BullMQ object owns (and closes) its connections. */
export function bullConnection(url: string): ConnectionOptions {
  return {
    url,
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
  };
}
