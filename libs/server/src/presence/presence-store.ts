import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/keys';

// Scores are expiry times in Redis's own clock, so API instances with skewed clocks agree.
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// The key outlives its latest entry, and only ever gets longer: an instance with a
// shorter TTL (a rolling config change) must not cut another instance's entries short.
const KEEP_KEY = `local function keep(key, ttl) if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end end`;

const OPEN = `${NOW} ${KEEP_KEY}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
keep(KEYS[1], tonumber(ARGV[2]))
return 1`;

// Refreshes entries that still exist (a closed one is not revived by a late heartbeat).
const REFRESH = `${NOW} ${KEEP_KEY}
local n = 0
for i = 1, #KEYS do
  n = n + redis.call('ZADD', KEYS[i], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i + 1])
  keep(KEYS[i], tonumber(ARGV[1]))
end
return n`;

const IS_OPEN = `${NOW}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')`;

type PresenceCommands = {
  bgsPresenceOpen(key: string, member: string, ttlMs: number): Promise<number>;
  bgsPresenceRefresh(...args: (string | number)[]): Promise<number>;
  bgsPresenceIsOpen(key: string): Promise<number>;
};

/**
 * Which threads are open, in Redis: one sorted set per thread, one member per socket,
 * scored by an expiry that heartbeats push forward. An API instance that dies stops
 * heartbeating, and its entries lapse within `ttlMs`.
 */
export class PresenceStore {
  private readonly redis: Redis & PresenceCommands;

  constructor(
    redis: Redis,
    private readonly keys: RedisKeys,
    readonly ttlMs: number,
  ) {
    const r = redis as Redis & Partial<PresenceCommands>;
    if (!r.bgsPresenceOpen) {
      redis.defineCommand('bgsPresenceOpen', { numberOfKeys: 1, lua: OPEN });
      redis.defineCommand('bgsPresenceIsOpen', { numberOfKeys: 1, lua: IS_OPEN });
      redis.defineCommand('bgsPresenceRefresh', { lua: REFRESH });
    }
    this.redis = redis as Redis & PresenceCommands;
  }

  async open(threadId: string, socketId: string): Promise<void> {
    await this.redis.bgsPresenceOpen(this.keys.presence(threadId), socketId, this.ttlMs);
  }

  async close(threadId: string, socketId: string): Promise<void> {
    await this.redis.zrem(this.keys.presence(threadId), socketId);
  }

  /** One round trip for all of an instance's open (thread, socket) pairs. */
  async refresh(entries: Array<{ threadId: string; socketId: string }>): Promise<void> {
    if (entries.length === 0) return;
    const keys = entries.map((e) => this.keys.presence(e.threadId));
    await this.redis.bgsPresenceRefresh(keys.length, ...keys, this.ttlMs, ...entries.map((e) => e.socketId));
  }

  /** True while at least one unexpired socket has the thread open. */
  async isOpen(threadId: string): Promise<boolean> {
    return (await this.redis.bgsPresenceIsOpen(this.keys.presence(threadId))) > 0;
  }
}
