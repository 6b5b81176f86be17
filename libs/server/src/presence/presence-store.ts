import type { RedisClient } from '../redis/connection';
import type { RedisKeys } from '../redis/keys';
import { groupBySlot } from '../redis/slots';
import { withLuaCommands } from '../redis/lua-commands';
import PRESENCE_IS_OPEN from '../redis/lua/presence-is-open.lua';
import PRESENCE_OPEN from '../redis/lua/presence-open.lua';
import PRESENCE_REFRESH from '../redis/lua/presence-refresh.lua';

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
  private readonly redis: RedisClient & PresenceCommands;

  constructor(
    redis: RedisClient,
    private readonly keys: RedisKeys,
    readonly ttlMs: number,
  ) {
    this.redis = withLuaCommands<RedisClient, PresenceCommands>(redis, [
      { name: 'bgsPresenceOpen', numberOfKeys: 1, source: PRESENCE_OPEN },
      { name: 'bgsPresenceIsOpen', numberOfKeys: 1, source: PRESENCE_IS_OPEN },
      { name: 'bgsPresenceRefresh', source: PRESENCE_REFRESH },
    ]);
  }

  async open(threadId: string, socketId: string): Promise<void> {
    await this.redis.bgsPresenceOpen(this.keys.presence(threadId), socketId, this.ttlMs);
  }

  async close(threadId: string, socketId: string): Promise<void> {
    await this.redis.zrem(this.keys.presence(threadId), socketId);
  }

  /**
   * One round trip for all of an instance's open (thread, socket) pairs: one script on one
   * Redis, one per hash slot (pipelined per node) on a cluster.
   */
  async refresh(entries: Array<{ threadId: string; socketId: string }>): Promise<void> {
    if (entries.length === 0) return;
    const keyed = entries.map((e) => ({ key: this.keys.presence(e.threadId), socketId: e.socketId }));
    await Promise.all(groupBySlot(this.redis, keyed, (e) => e.key).map((group) =>
      this.redis.bgsPresenceRefresh(group.length, ...group.map((e) => e.key), this.ttlMs, ...group.map((e) => e.socketId)),
    ));
  }

  /** True while at least one unexpired socket has the thread open. */
  async isOpen(threadId: string): Promise<boolean> {
    return (await this.redis.bgsPresenceIsOpen(this.keys.presence(threadId))) > 0;
  }
}
