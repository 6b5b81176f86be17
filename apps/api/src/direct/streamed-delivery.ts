import type { Request, Response } from 'express';
import { ApiError, isTerminalStreamStatus, type SendMessageResult } from '@bgs/shared';
import {
  GENERATION_FAILED,
  runGeneration,
  SseStreamEvents,
  streamEnd,
  type AttemptPorts,
  type CancelSignals,
  type GenerationOutcome,
  type StreamEvents,
  type StreamRow,
} from '@bgs/server';
import type { TurnDelivery } from '../messages/turn-delivery';

/** What a direct-mode generation runs on: everything but the events, which are each response's own. */
export type DirectPorts = Omit<AttemptPorts, 'events'>;

/**
 * Runs a stored turn's generation in this process: one attempt (no worker retries it),
 * its events written to `events`, cancellable through `cancels` while it runs.
 */
export async function generateHere(ports: DirectPorts, cancels: CancelSignals, stream: StreamRow, events: StreamEvents): Promise<GenerationOutcome> {
  const control = cancels.register(stream.id);
  try {
    const logger = ports.logger.child({ streamId: stream.id, threadId: stream.threadId, mode: 'direct' });
    const request = { streamId: stream.id, threadId: stream.threadId, messageId: stream.messageId, model: stream.model };
    return await runGeneration(request, control, { ...ports, logger, events }, { mayRetry: false });
  } finally {
    cancels.release(stream.id, control);
  }
}

const wantsEventStream = (req: Request) => /\btext\/event-stream\b/.test(req.headers.accept ?? '');

/**
 * Direct mode (BACKGROUND_STREAMING=false): the answer streams in the POST response as
 * server-sent events (see `SseStreamEvents`), as plain client-side streaming does. No
 * Redis, no queue: the same `runGeneration` as a worker's, run here with one attempt over
 * the in-memory live buffer. A client that disconnects cancels the generation; the
 * message is kept as `cancelled` with the partial text.
 */
export function streamedDelivery(ports: DirectPorts, cancels: CancelSignals): TurnDelivery {
  return {
    accept(req) {
      if (!wantsEventStream(req)) {
        throw new ApiError('invalid_request', 'background streaming is off: send with `Accept: text/event-stream` to stream the answer in the response');
      }
    },
    async deliver(turn, res) {
      openEventStream(res);
      if (!turn.created) return replay(res, turn.result, ports);
      const { stream } = turn;
      const onClose = () => {
        if (!res.writableEnded) cancels.abort(stream.id, 'cancel');
      };
      res.on('close', onClose);
      try {
        await generateHere(ports, cancels, stream, new SseStreamEvents(res, turn.result));
      } finally {
        res.off('close', onClose);
        res.end();
      }
    },
  };
}

/**
 * The same Idempotency-Key again: `started` with the first answer's stream as it is now
 * (live text so far, a snapshot by attempt + seq), then its outcome if it has ended.
 */
async function replay(res: Response, result: SendMessageResult, ports: DirectPorts): Promise<void> {
  const state = result.stream;
  const live = await ports.live.read({ streamId: state.id, threadId: state.threadId });
  const events = new SseStreamEvents(res, live ? { ...result, stream: { ...state, ...live } } : result);
  const ids = { streamId: state.id, threadId: state.threadId, messageId: state.messageId };
  await events.started().send();
  if (isTerminalStreamStatus(state.status)) await events.ended(streamEnd(state.status, ids, result.assistantMessage, state.error ?? GENERATION_FAILED)).send();
  res.end();
}

function openEventStream(res: Response): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
}
