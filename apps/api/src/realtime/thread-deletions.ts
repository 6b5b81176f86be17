import { EVENTS, rooms, type ThreadDeletedEvent } from '@bgs/shared';
import { sendPacket, type Logger, type PacketPublisher, type RoomWire } from '@bgs/server';
import type { PresenceTracker } from '../presence/presence-tracker';
import type { RealtimeServer } from './socket-server';

/** What `DELETE /api/threads/:id` tells the realtime side, once the thread is gone. */
export interface ThreadDeletedPort {
  /** Never throws: the thread is deleted whatever happens to the news. */
  threadDeleted(userId: string, threadId: string): Promise<void>;
}

/** The server-side event (between API instances) that a thread was deleted; its argument is the thread id. */
export const THREAD_DELETED_SERVER_EVENT = 'thread.deleted';

/**
 * A deleted thread leaves nothing behind on any API instance, and every tab of its user
 * hears of it. Two messages go out through Redis, as the adapter reads them (`wire`), so
 * that every API instance's adapter handles them, this one included:
 *
 * 1. a server-side emit: each instance makes its own sockets that had the thread open
 *    leave its room and closes their presence (`forgetDeletedThreads`). Presence is held
 *    by each instance's PresenceTracker for its own sockets, and only that instance can
 *    close it: its heartbeat would otherwise keep the entries alive. Left behind, a room
 *    entry would deliver the events of a thread later created under the same id (an AI
 *    SDK chat id, possibly another user's), and a presence entry would silence that
 *    thread's notifications;
 * 2. `thread.deleted {threadId}` to the user's room, so every tab drops the thread.
 *
 * Through Redis rather than at once here, so that each instance handles them after the
 * `stream.cancelled` the delete published before (pub/sub keeps one publisher's order; on
 * a cluster they travel from different shards, but that one was acknowledged first):
 * the thread's sockets get that event, then leave the room, then hear `thread.deleted`.
 * Both are published before the DELETE answers, so a thread created again under the
 * same id afterwards starts with an empty room and no presence. An instance whose Redis
 * subscription dropped meanwhile misses them, but it then closes all its sockets
 * (resync-after-redis-loss), which frees their rooms and presence anyway.
 */
export class SocketIoThreadDeletions implements ThreadDeletedPort {
  constructor(
    private readonly publisher: PacketPublisher,
    private readonly wire: RoomWire,
    private readonly logger: Logger,
  ) {}

  async threadDeleted(userId: string, threadId: string): Promise<void> {
    try {
      // In this order, from one connection: pub/sub keeps one publisher's order per channel.
      const forget = sendPacket(this.publisher, this.wire.serverSideEmit(THREAD_DELETED_SERVER_EVENT, threadId));
      const tell = sendPacket(this.publisher, this.wire.roomEvent(rooms.user(userId), EVENTS.threadDeleted, { threadId } satisfies ThreadDeletedEvent));
      await Promise.all([forget, tell]);
    } catch (err) {
      this.logger.warn({ userId, threadId, err: (err as Error)?.message }, 'could not announce a deleted thread');
    }
  }
}

/**
 * This instance's side of a deletion: its sockets in the thread's room leave it and close
 * their presence. A `thread.open` still in flight cannot slip past: it joins and marks
 * presence before it reads the thread again for its snapshot, and that read fails once the
 * thread is gone (the open is then undone); if the read came first, so did the join.
 */
export function forgetDeletedThreads(io: RealtimeServer, presence: PresenceTracker, logger: Logger): void {
  io.sockets.on(THREAD_DELETED_SERVER_EVENT, (threadId) => {
    if (typeof threadId !== 'string') return;
    const room = rooms.thread(threadId);
    for (const socketId of [...(io.sockets.adapter.rooms.get(room) ?? [])]) {
      const socket = io.sockets.sockets.get(socketId);
      // Left at once, before the next event reaches this instance.
      void socket?.leave(room);
      if (!presence.isOpenHere(socketId, threadId)) continue;
      presence.close(socketId, threadId).catch((err: Error) =>
        logger.warn({ threadId, socketId, err: err.message }, 'presence of a deleted thread not closed; it will expire'),
      );
    }
  });
}
