import { EVENTS, rooms } from '@bgs/shared';
import {
  encodeRoomEvent,
  FrameCoalescer,
  type FrameTimers,
  type ChatTurn,
  type LiveStreamStore,
  type Logger,
  type Provider,
  type RedisKeys,
  type StreamStore,
} from '@bgs/server';
import type { AbortReason } from './cancel-signals';

export interface AttemptContext {
  streamId: string;
  threadId: string;
  messageId: string;
  model: string;
  attempt: number;
  history: ChatTurn[];
  control: AbortController;
}

export interface AttemptDeps {
  provider: Provider;
  live: LiveStreamStore;
  streams: StreamStore;
  keys: RedisKeys;
  frames: { frameMs: number; maxChars: number; checkpointMs: number };
  /** The process's shared frame clock (one timer for all streams); a timer per frame without it. */
  frameClock?: FrameTimers;
  logger: Logger;
  /** Observes every flushed frame (metrics). */
  onFrame?: (tokens: number, chars: number, flushMs: number) => void;
}

export interface AttemptOutcome {
  content: string;
  seq: number;
  tokens: number;
  /** Set when the run stopped early: cancel, superseded or shutdown. */
  abortedBy: AbortReason | null;
}

/**
 * Runs one attempt: provider tokens → frames (one Redis round trip each: append +
 * publish) → a Postgres checkpoint at most every `checkpointMs`. Provider errors
 * propagate; aborts end the run with what was produced.
 */
export async function runAttempt(ctx: AttemptContext, deps: AttemptDeps): Promise<AttemptOutcome> {
  const { streamId, threadId, attempt, control } = ctx;
  const room = rooms.thread(threadId);
  let content = '';
  /** What the frames sent so far carry: checkpoints save this, so content and seq agree. */
  let flushed = '';
  let tokens = 0;
  let frameTokens = 0;
  let seq = 0;
  const checkpoints = new Checkpointer(deps, ctx);

  const coalescer = new FrameCoalescer(deps.frames, async (text, firstTokenAt) => {
    const frameSeq = ++seq;
    const counted = frameTokens;
    frameTokens = 0;
    const started = performance.now();
    const packet = encodeRoomEvent(deps.keys.socketIoKey, room, EVENTS.streamDelta, {
      streamId, threadId, attempt, seq: frameSeq, text, at: firstTokenAt,
    });
    const outcome = await deps.live.appendFrame(streamId, attempt, frameSeq, text, packet);
    flushed += text;
    deps.onFrame?.(counted, text.length, performance.now() - started);
    if (outcome === 'superseded') control.abort('superseded' satisfies AbortReason);
    else if (outcome === 'cancel-requested') control.abort('cancel' satisfies AbortReason);
    else checkpoints.maybe(frameSeq, flushed);
  }, deps.frameClock);

  try {
    for await (const token of deps.provider.stream({ model: ctx.model, messages: ctx.history, attempt, signal: control.signal })) {
      if (control.signal.aborted) break;
      content += token;
      tokens++;
      frameTokens++;
      coalescer.push(token);
    }
  } catch (err) {
    if (!control.signal.aborted) {
      // What was produced before the error is still shown and kept with the failure.
      await coalescer.drain().catch(() => undefined);
      await checkpoints.settle();
      throw Object.assign(err as Error, { partial: { content, seq } });
    }
  }
  const reason = control.signal.aborted ? (control.signal.reason as AbortReason) : null;
  if (reason === 'superseded' || reason === 'shutdown') coalescer.discard();
  else await coalescer.drain();
  await checkpoints.settle();
  return { content, seq, tokens, abortedBy: reason };
}

/** At most one checkpoint in flight and one per `checkpointMs`; a failed one is logged, not fatal. */
class Checkpointer {
  private last = Date.now();
  private inFlight: Promise<unknown> | null = null;

  constructor(
    private readonly deps: AttemptDeps,
    private readonly ctx: AttemptContext,
  ) {}

  maybe(seq: number, content: string): void {
    if (this.inFlight || Date.now() - this.last < this.deps.frames.checkpointMs) return;
    this.last = Date.now();
    this.inFlight = this.deps.streams
      .checkpoint(this.ctx.messageId, content, this.ctx.attempt, seq)
      .catch((err: Error) => this.deps.logger.warn({ err: err.message, seq }, 'checkpoint failed; the live buffer still holds the content'))
      .finally(() => (this.inFlight = null));
  }

  async settle(): Promise<void> {
    await this.inFlight;
  }
}
