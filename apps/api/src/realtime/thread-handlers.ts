import { rooms, threadRefPayload, type ThreadCloseAck, type ThreadOpenAck } from '@bgs/shared';
import type { Logger } from '@bgs/server';
import { parseInput } from '../http/validate';
import type { PresenceTracker } from '../presence/presence-tracker';
import type { StreamReader } from '../streams/stream-reader';
import type { ThreadStore } from '../threads/thread-store';
import { ackError, type RealtimeSocket } from './socket-server';

export interface ThreadHandlerDeps {
  threads: ThreadStore;
  reader: StreamReader;
  presence: PresenceTracker;
  logger: Logger;
}

/**
 * `thread.open`: check ownership, join the room, mark presence, then read the
 * snapshot, in that order, so no frame falls between the snapshot and the live tail
 * (frames that arrive before the ack are reconciled by attempt + seq on the client).
 * `thread.close` and disconnect undo all of it; nothing per thread outlives the socket.
 */
export function registerThreadHandlers(socket: RealtimeSocket, deps: ThreadHandlerDeps): void {
  const userId = socket.data.userId;

  socket.on('thread.open', async (payload, ack) => {
    if (typeof ack !== 'function') return;
    let threadId: string | undefined;
    try {
      threadId = parseInput(threadRefPayload, payload, 'thread.open payload').threadId;
      await deps.threads.get(userId, threadId);
      await socket.join(rooms.thread(threadId));
      await deps.presence.open(socket.id, threadId);
      const streams = await deps.reader.threadSnapshot(userId, threadId);
      ack({ ok: true, streams } satisfies ThreadOpenAck);
    } catch (err) {
      if (threadId && !deps.presence.isOpenHere(socket.id, threadId)) await socket.leave(rooms.thread(threadId));
      ack(ackError(err, deps.logger, { event: 'thread.open', userId, threadId }));
    }
  });

  socket.on('thread.close', async (payload, ack) => {
    const reply = (a: ThreadCloseAck) => typeof ack === 'function' && ack(a);
    try {
      const { threadId } = parseInput(threadRefPayload, payload, 'thread.close payload');
      await socket.leave(rooms.thread(threadId));
      await deps.presence.close(socket.id, threadId);
      reply({ ok: true });
    } catch (err) {
      reply(ackError(err, deps.logger, { event: 'thread.close', userId }));
    }
  });

  socket.on('disconnect', () => {
    deps.presence.closeSocket(socket.id).catch((err: Error) =>
      deps.logger.warn({ userId, socketId: socket.id, err: err.message }, 'presence cleanup failed; entries will expire'),
    );
  });
}
