import type { Request, Response } from 'express';
import { ApiError } from '@bgs/shared';
import type { GenerationQueue, Logger } from '@bgs/server';
import type { CreatedTurn, MessageStore } from './message-store';

/** How a stored turn's answer reaches the user: queued for a worker, or streamed in the response. */
export interface TurnDelivery {
  /** Refuses, before anything is stored, a request this mode cannot answer. */
  accept(req: Request): void;
  /** Starts the turn's generation (unless an earlier request with its key did) and answers the request. */
  deliver(turn: CreatedTurn, res: Response): Promise<void>;
}

/** Starts a stored turn's generation in the background (nothing for a turn an earlier request started). */
export type TurnEnqueuer = (turn: CreatedTurn) => Promise<void>;

/**
 * Enqueues a turn's generation for the workers. A turn whose job cannot be enqueued is
 * undone, so a retry of the request starts clean.
 */
export function turnEnqueuer(queue: Pick<GenerationQueue, 'enqueue'>, store: MessageStore, logger: Logger): TurnEnqueuer {
  return async (turn) => {
    if (!turn.created) return;
    const { stream } = turn;
    try {
      await queue.enqueue({ streamId: stream.id, threadId: stream.threadId, messageId: stream.messageId, userId: stream.userId, model: stream.model });
    } catch (err) {
      logger.warn({ streamId: stream.id, threadId: stream.threadId, err: (err as Error).message }, 'enqueue failed; turn undone');
      await store.discardTurn(stream);
      throw new ApiError('unavailable', 'the generation queue is unavailable; retry shortly', undefined, 2);
    }
    logger.info({ streamId: stream.id, threadId: stream.threadId, model: stream.model }, 'generation enqueued');
  };
}

/** Background mode: enqueue the generation and answer 202 at once; the answer streams to the thread's sockets. */
export function queuedDelivery(enqueue: TurnEnqueuer): TurnDelivery {
  return {
    accept: () => undefined,
    async deliver(turn, res) {
      await enqueue(turn);
      res.status(202).json(turn.result);
    },
  };
}
