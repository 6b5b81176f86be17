import { ApiError, type SendMessageResult } from '@bgs/shared';
import type { Logger } from '@bgs/server';
import type { GenerationQueue } from '../generation/generation-queue';
import type { MessageStore, NewTurn } from './message-store';
import type { SendRateLimiter } from './send-rate-limiter';

/**
 * Background mode: store the turn, enqueue its generation, answer 202 at once.
 * A retried request with the same Idempotency-Key gets the first answer and enqueues
 * nothing; a turn whose job cannot be enqueued is undone so a retry starts clean.
 */
export class MessageSender {
  constructor(
    private readonly store: MessageStore,
    private readonly queue: GenerationQueue,
    private readonly rateLimiter: SendRateLimiter,
    private readonly logger: Logger,
  ) {}

  async send(turn: NewTurn): Promise<SendMessageResult> {
    if (turn.idempotencyKey) {
      const earlier = await this.store.findByIdempotencyKey(turn.userId, turn.threadId, turn.idempotencyKey);
      if (earlier) return earlier.result;
    }
    await this.rateLimiter.consume(turn.userId);
    const created = await this.store.createTurn(turn);
    if (!created.created) return created.result;
    const { stream } = created;
    try {
      await this.queue.enqueue({ streamId: stream.id, threadId: stream.threadId, messageId: stream.messageId, userId: turn.userId, model: turn.model });
    } catch (err) {
      this.logger.warn({ streamId: stream.id, threadId: stream.threadId, err: (err as Error).message }, 'enqueue failed; turn undone');
      await this.store.discardTurn(stream);
      throw new ApiError('unavailable', 'the generation queue is unavailable; retry shortly', undefined, 2);
    }
    this.logger.info({ streamId: stream.id, threadId: stream.threadId, model: turn.model }, 'generation enqueued');
    return created.result;
  }
}
