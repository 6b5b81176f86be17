import type { Response } from 'express';
import type { StreamRow, ThreadRow } from '@bgs/server';
import type { TurnDelivery } from '../messages/turn-delivery';

/** How a chat's answer reaches an AI SDK client, in each mode. */
export interface ChatStreaming extends TurnDelivery {
  /**
   * `GET /api/chat/:id/stream` for a thread the user owns and its active stream: the
   * running answer replayed from its start and followed to its end, or 204 when nothing runs.
   */
  resume(thread: ThreadRow, running: StreamRow | null, res: Response): Promise<void>;
}
