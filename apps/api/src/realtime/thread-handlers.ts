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
 *
 * A socket's opens, closes and its disconnect take effect one at a time, in the order
 * they arrived: socket.io runs async handlers concurrently, and an open still waiting
 * for Postgres would otherwise land after a later close (a quick thread switch) or
 * after the disconnect cleanup, leaving the thread "open" for as long as this
 * instance heartbeats, which silences its notifications.
 */
export function registerThreadHandlers(socket: RealtimeSocket, deps: ThreadHandlerDeps): void {
  const userId = socket.data.userId;
  let pending: Promise<void> = Promise.resolve();
  const inOrder = (step: () => Promise<void>) =>
    (pending = pending.then(step).catch((err: Error) => deps.logger.error({ userId, socketId: socket.id, err: err.message }, 'socket thread step failed')));

  socket.on('thread.open', (...args: unknown[]) => {
    const { payload, ack } = splitAck<ThreadOpenAck>(args);
    if (!ack) return;
    void inOrder(() => openThread(socket, deps, payload, ack));
  });

  socket.on('thread.close', (...args: unknown[]) => {
    const { payload, ack } = splitAck<ThreadCloseAck>(args);
    const reply = (a: ThreadCloseAck) => ack?.(a);
    void inOrder(async () => {
      try {
        const { threadId } = parseInput(threadRefPayload, payload, 'thread.close payload');
        await socket.leave(rooms.thread(threadId));
        await deps.presence.close(socket.id, threadId);
        reply({ ok: true });
      } catch (err) {
        reply(ackError(err, deps.logger, { event: 'thread.close', userId }));
      }
    });
  });

  socket.on('disconnect', () => {
    void inOrder(() =>
      deps.presence.closeSocket(socket.id).catch((err: Error) =>
        deps.logger.warn({ userId, socketId: socket.id, err: err.message }, 'presence cleanup failed; entries will expire'),
      ),
    );
  });
}

/**
 * socket.io passes the ack as the last argument, whatever came before it. `[payload, ack]`
 * is the only valid shape: an emit with no payload or with extra arguments still gets its
 * `invalid_request` answer (the arguments, an array, fail the payload schema) instead of a
 * silent timeout.
 */
function splitAck<A>(args: unknown[]): { payload: unknown; ack: ((answer: A) => void) | null } {
  const last = args[args.length - 1];
  const ack = typeof last === 'function' ? (last as (answer: A) => void) : null;
  const rest = ack ? args.slice(0, -1) : args;
  return { payload: rest.length === 1 ? rest[0] : rest, ack };
}

async function openThread(socket: RealtimeSocket, deps: ThreadHandlerDeps, payload: unknown, ack: (a: ThreadOpenAck) => void): Promise<void> {
  const userId = socket.data.userId;
  let threadId: string | undefined;
  let wasOpen = false;
  try {
    threadId = parseInput(threadRefPayload, payload, 'thread.open payload').threadId;
    wasOpen = deps.presence.isOpenHere(socket.id, threadId);
    await deps.threads.get(userId, threadId);
    // Gone while we asked Postgres: joining now would leave a room entry no disconnect removes.
    if (socket.disconnected) return;
    await socket.join(rooms.thread(threadId));
    await deps.presence.open(socket.id, threadId);
    const streams = await deps.reader.threadSnapshot(userId, threadId);
    ack({ ok: true, streams } satisfies ThreadOpenAck);
  } catch (err) {
    // A failed open leaves the thread as it was: not open unless it already was.
    if (threadId && !wasOpen) await undoOpen(socket, deps, threadId);
    ack(ackError(err, deps.logger, { event: 'thread.open', userId, threadId }));
  }
}

async function undoOpen(socket: RealtimeSocket, deps: ThreadHandlerDeps, threadId: string): Promise<void> {
  await socket.leave(rooms.thread(threadId));
  if (!deps.presence.isOpenHere(socket.id, threadId)) return;
  await deps.presence.close(socket.id, threadId).catch((err: Error) =>
    deps.logger.warn({ userId: socket.data.userId, threadId, err: err.message }, 'could not undo presence of a failed thread.open; it will expire'),
  );
}
