import type { StreamRef } from '@bgs/shared';

/**
 * Every Redis key and channel name, built from one prefix so several deployments
 * (or test runs) can share a Redis server. A thread's keys (its streams' and its
 * presence) carry the thread id as hash tag, as its socket.io room channel does
 * (`rooms.thread`): on Redis Cluster they all sit in one slot, so one script writes a
 * frame and publishes it on the room's channel (SPUBLISH) in one round trip.
 */
export function redisKeys(prefix: string) {
  const threadTag = (threadId: string) => `${prefix}:thread:{${threadId}}`;
  return {
    /** BullMQ's prefix: one hash tag so its multi-key scripts work on a cluster. */
    bullPrefix: `{${prefix}}`,
    /** socket.io adapter/emitter channel prefix; a room's channel is `${socketIoKey}#/#${room}#`. */
    socketIoKey: `${prefix}:socket.io`,
    streamLive: (s: StreamRef) => `${threadTag(s.threadId)}:stream:${s.streamId}:live`,
    streamContent: (s: StreamRef) => `${threadTag(s.threadId)}:stream:${s.streamId}:content`,
    presence: (threadId: string) => `${threadTag(threadId)}:presence`,
    sendRate: (userId: string) => `${prefix}:rate:send:${userId}`,
    cancelChannel: `${prefix}:cancel`,
    listenerCursor: `${prefix}:listener:last-event-id`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
