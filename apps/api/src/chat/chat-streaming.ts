import type { Response } from 'express';
import type { ThreadRow } from '@bgs/server';
import type { TurnDelivery } from '../messages/turn-delivery';

/** How a chat's answer reaches an AI SDK client, in each mode. */
export interface ChatStreaming extends TurnDelivery {
  /**
   * `GET /api/chat/:id/stream` for a thread the user owns: the running answer replayed
   * from its start and followed to its end, or 204 when nothing runs.
   */
  resume(userId: string, thread: ThreadRow, res: Response): Promise<void>;
}
