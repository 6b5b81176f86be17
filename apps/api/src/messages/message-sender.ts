import type { Response } from 'express';
import type { MessageStore, NewTurn } from './message-store';
import type { SendRateLimiter } from './send-rate-limiter';
import type { TurnDelivery } from './turn-delivery';

/**
 * Sending a message, the same in both modes: a retried request with the same
 * Idempotency-Key gets the first turn back (nothing new is generated); otherwise the
 * send is rate limited, the turn stored, and its answer delivered.
 */
export class MessageSender {
  constructor(
    private readonly store: MessageStore,
    private readonly rateLimiter: SendRateLimiter,
    private readonly delivery: TurnDelivery,
  ) {}

  async send(turn: NewTurn, res: Response): Promise<void> {
    const earlier = turn.idempotencyKey ? await this.store.findByIdempotencyKey(turn.userId, turn.threadId, turn.idempotencyKey) : null;
    if (earlier) return this.delivery.deliver(earlier, res);
    await this.rateLimiter.consume(turn.userId);
    await this.delivery.deliver(await this.store.createTurn(turn), res);
  }
}
