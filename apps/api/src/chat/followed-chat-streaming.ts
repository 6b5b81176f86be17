import { randomUUID } from 'node:crypto';
import type { Response } from 'express';
import { EMPTY_POSITION, isTerminalStreamStatus, type StreamPosition } from '@bgs/shared';
import type { Logger, PrismaClient } from '@bgs/server';
import type { CreatedTurn } from '../messages/message-store';
import type { TurnEnqueuer } from '../messages/turn-delivery';
import type { PresenceTracker } from '../presence/presence-tracker';
import type { StreamReader } from '../streams/stream-reader';
import type { ChatStreaming } from './chat-streaming';
import { FollowedAnswer } from './followed-answer';
import type { RoomFollower } from './room-follower';
import { answerWithUiMessageStream } from './ui-message-response';

export interface FollowedChatDeps {
  follower: RoomFollower;
  enqueue: TurnEnqueuer;
  reader: StreamReader;
  presence: PresenceTracker;
  prisma: PrismaClient;
  logger: Logger;
  /** How long a reader that got the whole answer keeps the thread open, waiting for the notification decision. */
  holdPresenceMs?: number;
}

/**
 * Background mode: the generation runs on a worker like any other; the HTTP reader
 * follows the thread's room (subscribed before anything can be missed) and reads it as a
 * UI message stream. While it reads, the reader counts as having the thread open; a reader
 * that received the whole answer keeps it open until the notification is decided, so an
 * answer it saw to the end is never notified. A disconnect only stops the reading.
 */
export function followedChatStreaming(deps: FollowedChatDeps): ChatStreaming {
  const read = async (res: Response, threadId: string, messageId: string, answer: FollowedAnswer, from: () => Promise<StreamPosition | null>) => {
    const readerId = `chat:${randomUUID()}`;
    const unfollow = await deps.follower.follow(threadId, answer.onRoomEvent);
    let opened = false;
    const release = async () => {
      await unfollow();
      if (opened) await deps.presence.close(readerId, threadId).catch((err: Error) => deps.logger.warn({ threadId, err: err.message }, 'presence close failed; it will expire'));
    };
    let ending: Promise<string> | undefined;
    try {
      await deps.presence.open(readerId, threadId);
      opened = true;
      const start = await from();
      if (!start) {
        await release();
        return void res.status(204).end();
      }
      const { readerLeft } = await answerWithUiMessageStream(res, messageId, async (ui, readerGone) => {
        answer.start(ui, start);
        ending = ui.ended$;
        await Promise.race([ui.ended$, readerGone]);
      });
      if (!readerLeft && (await ending) === 'completed') return void holdUntilDecided(deps, answer.streamId).finally(release);
    } catch (err) {
      await release();
      throw err;
    }
    await release();
  };

  return {
    accept: () => undefined,
    async deliver(turn: CreatedTurn, res) {
      const { stream } = turn;
      const answer = new FollowedAnswer(stream.id);
      await read(res, stream.threadId, stream.messageId, answer, async () => {
        await deps.enqueue(turn);
        return EMPTY_POSITION;
      });
    },
    async resume(thread, running, res) {
      const { id: threadId, userId } = thread;
      if (!running || isTerminalStreamStatus(running.status)) return void res.status(204).end();
      const answer = new FollowedAnswer(running.id);
      // Joined first, then the snapshot: frames in between are applied by attempt + seq.
      await read(res, threadId, running.messageId, answer, async () => {
        const [snapshot] = await deps.reader.threadSnapshot(userId, threadId);
        // Ended meanwhile: nothing to resume; the history has the final answer.
        if (snapshot?.streamId !== running.id || isTerminalStreamStatus(snapshot.status)) return null;
        return snapshot;
      });
    },
  };
}

/** Waits (bounded) for the listener to decide the stream's notification. */
async function holdUntilDecided(deps: FollowedChatDeps, streamId: string): Promise<void> {
  const deadline = Date.now() + (deps.holdPresenceMs ?? 30_000);
  while (Date.now() < deadline) {
    const row = await deps.prisma.stream.findUnique({ where: { id: streamId }, select: { notificationDecision: true } }).catch(() => null);
    if (!row || row.notificationDecision) return;
    await new Promise((resolve) => setTimeout(resolve, 200).unref());
  }
}
