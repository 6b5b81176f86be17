import type { Response } from 'express';
import {
  failureShownFor,
  FrameCoalescer,
  type FrameTimers,
  GENERATION_FAILED,
  toMessage,
  type LiveSnapshot,
  type Logger,
  type Provider,
  type StreamFinisher,
  type StreamStore,
} from '@bgs/server';
import type { CreatedTurn } from '../messages/message-store';
import type { LiveReader } from '../streams/stream-reader';
import type { LocalCanceller } from '../streams/stream-canceller';

interface Running {
  controller: AbortController;
  live: LiveSnapshot;
}


/**
 * Direct mode (BACKGROUND_STREAMING=false): the answer streams in the POST response as
 * server-sent events, as plain client-side streaming does. No Redis, no queue. A client
 * that disconnects aborts the provider and the message is kept as `cancelled` with the
 * partial text. Live content is held in memory so `GET /streams/:id` still shows it.
 *
 * Events: `started` (the 202 body of background mode: `{userMessage, assistantMessage,
 * stream}`, so a client has the ids, e.g. to cancel), `delta` `{seq, text}`, then one of
 * `completed` `{message}`, `failed` `{error, message}`, `cancelled` `{message}` (a cancel
 * through the API; after a disconnect nobody is listening).
 */
export class DirectGenerator implements LiveReader, LocalCanceller {
  private readonly running = new Map<string, Running>();

  constructor(
    private readonly deps: {
      provider: Provider;
      streams: StreamStore;
      finisher: StreamFinisher;
      frames: { frameMs: number; maxChars: number };
      frameClock?: FrameTimers;
      logger: Logger;
    },
  ) {}

  async read(streamId: string): Promise<LiveSnapshot | null> {
    return this.running.get(streamId)?.live ?? null;
  }

  cancel(streamId: string): boolean {
    const run = this.running.get(streamId);
    run?.controller.abort('cancel');
    return run !== undefined;
  }

  get size(): number {
    return this.running.size;
  }

  /** Streams `turn`'s answer into `res`; resolves when the response has ended. */
  async stream(res: Response, turn: CreatedTurn): Promise<void> {
    const { stream } = turn;
    openEventStream(res);
    if (!turn.created) return this.replay(res, turn);
    writeEvent(res, 'started', turn.result);
    const logger = this.deps.logger.child({ streamId: stream.id, threadId: stream.threadId, attempt: 1 });
    const controller = new AbortController();
    const run: Running = { controller, live: { attempt: 1, seq: 0, status: 'streaming', content: '' } };
    this.running.set(stream.id, run);
    const onClose = () => {
      if (!res.writableEnded) controller.abort('cancel');
    };
    res.on('close', onClose);
    try {
      const start = await this.deps.streams.startAttempt(stream.id, 1);
      if (start.kind !== 'started') return void res.end();
      logger.info('direct generation started');
      const coalescer = new FrameCoalescer(this.deps.frames, async (text) => {
        run.live = { ...run.live, seq: run.live.seq + 1, content: run.live.content + text };
        writeEvent(res, 'delta', { seq: run.live.seq, text });
      }, this.deps.frameClock);
      let failure: { code: string; message: string } | null = null;
      try {
        for await (const token of this.deps.provider.stream({ model: stream.model, messages: start.history, attempt: 1, signal: controller.signal })) {
          if (controller.signal.aborted) break;
          coalescer.push(token);
        }
      } catch (err) {
        if (!controller.signal.aborted) {
          failure = failureShownFor(err);
          logger.warn({ err: (err as Error).message }, 'direct generation failed');
        }
      }
      await coalescer.drain();
      const status = failure ? 'failed' : controller.signal.aborted ? 'cancelled' : 'completed';
      const ended = await this.deps.finisher.finish(stream.id, { status, content: run.live.content, attempt: 1, seq: run.live.seq, ...(failure ? { error: failure } : {}) });
      const message = ended ? { message: toMessage(ended.message) } : {};
      if (status === 'completed' && ended) writeEvent(res, 'completed', message);
      if (status === 'failed') writeEvent(res, 'failed', { error: failure, ...message });
      if (status === 'cancelled') writeEvent(res, 'cancelled', message);
      logger.info({ status, frames: run.live.seq, chars: run.live.content.length }, 'direct generation ended');
    } finally {
      res.off('close', onClose);
      this.running.delete(stream.id);
      res.end();
    }
  }

  /**
   * The same Idempotency-Key again: `started` with the first answer's stream as it is now
   * (live text so far, a snapshot by attempt + seq), then its outcome if it has ended.
   */
  private async replay(res: Response, turn: CreatedTurn): Promise<void> {
    const { result } = turn;
    const state = result.stream;
    const live = this.running.get(state.id)?.live;
    writeEvent(res, 'started', live ? { ...result, stream: { ...state, ...live } } : result);
    const message = { message: result.assistantMessage };
    if (state.status === 'completed') writeEvent(res, 'completed', message);
    else if (state.status === 'failed') writeEvent(res, 'failed', { error: state.error ?? GENERATION_FAILED, ...message });
    else if (state.status === 'cancelled') writeEvent(res, 'cancelled', message);
    res.end();
  }
}

function openEventStream(res: Response): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
}

function writeEvent(res: Response, event: string, data: unknown): void {
  // After a disconnect there is nobody to write to.
  if (!res.writableEnded && !res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
