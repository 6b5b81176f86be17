import { z } from 'zod';
import { threadIdSchema } from './schemas';

/** The BullMQ queue that carries generation jobs (job id = stream id). */
export const GENERATION_QUEUE = 'generation';

export const generationJobSchema = z.object({
  streamId: z.string().uuid(),
  threadId: threadIdSchema,
  messageId: z.string().uuid(),
  userId: z.string().min(1),
  model: z.string().min(1),
});

/** What a generation job carries; everything else is read from Postgres once per attempt. */
export type GenerationJob = z.infer<typeof generationJobSchema>;

/** What a finished job returns, visible in Bull Board and QueueEvents. */
export interface GenerationResult {
  status: 'completed' | 'cancelled';
  attempt: number;
  seq: number;
  chars: number;
}
