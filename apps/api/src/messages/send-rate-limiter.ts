import { ApiError } from '@bgs/shared';
import { withLuaCommands, type RedisClient, type RedisKeys } from '@bgs/server';
import SEND_RATE_WINDOW from './send-rate-window.lua';

/** Sends per user per window; a refusal is a 429 with `Retry-After`. */
export interface SendRateLimiter {
  consume(userId: string): Promise<void>;
}

function refuse(limit: number, retryAfterMs: number): never {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  throw new ApiError('rate_limited', `too many messages: at most ${limit} per window; retry in ${seconds}s`, { limit }, seconds);
}

/** A fixed window in Redis (one round trip, one key: any slot of a cluster), so the limit holds across API instances. */
export function redisRateLimiter(redis: RedisClient, keys: RedisKeys, limit: number, windowMs: number): SendRateLimiter {
  const commands = withLuaCommands<RedisClient, { bgsSendRateWindow(key: string, windowMs: number): Promise<[number, number]> }>(redis, [
    { name: 'bgsSendRateWindow', numberOfKeys: 1, source: SEND_RATE_WINDOW },
  ]);
  return {
    async consume(userId) {
      const [count, ttl] = await commands.bgsSendRateWindow(keys.sendRate(userId), windowMs);
      if (count > limit) refuse(limit, ttl);
    },
  };
}

/** The same window in memory, for direct mode (no Redis, one instance). */
export function memoryRateLimiter(limit: number, windowMs: number, now: () => number = Date.now): SendRateLimiter {
  const windows = new Map<string, { count: number; resetAt: number }>();
  return {
    async consume(userId) {
      const t = now();
      let w = windows.get(userId);
      if (!w || w.resetAt <= t) {
        if (windows.size > 10_000) for (const [k, v] of windows) if (v.resetAt <= t) windows.delete(k);
        w = { count: 0, resetAt: t + windowMs };
        windows.set(userId, w);
      }
      w.count++;
      if (w.count > limit) refuse(limit, w.resetAt - t);
    },
  };
}
