/**
 * Every Redis key and channel name, built from one prefix so several deployments
 * (or test runs) can share a Redis server. Keys of one stream share a hash tag,
 * so the Lua scripts that touch them also run on Redis Cluster.
 */
export function redisKeys(prefix: string) {
  return {
    /** BullMQ's prefix: one hash tag so its multi-key scripts work on a cluster. */
    bullPrefix: `{${prefix}}`,
    /** socket.io adapter/emitter channel prefix. */
    socketIoKey: `${prefix}:socket.io`,
    streamLive: (streamId: string) => `${prefix}:stream:{${streamId}}:live`,
    streamContent: (streamId: string) => `${prefix}:stream:{${streamId}}:content`,
    presence: (threadId: string) => `${prefix}:presence:{${threadId}}`,
    sendRate: (userId: string) => `${prefix}:rate:send:${userId}`,
    cancelChannel: `${prefix}:cancel`,
    listenerCursor: `${prefix}:listener:last-event-id`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
