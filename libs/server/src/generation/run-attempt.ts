import type { StreamEvents } from '../events/stream-events';
import type { LiveBuffer } from '../live/live-buffer';
import type { Logger } from '../logging/logger';
import type { ChatTurn, Provider } from '../providers/provider';
import type { StreamRecords } from '../streams/stream-records';
import type { AbortReason } from './cancel-signals';
import { Checkpointer } from './checkpointer';
import { FrameCoalescer, type FrameTimers } from './frame-coalescer';

export interface FrameOptions {
  frameMs: number;
  maxChars: number;
  checkpointMs: number;
}

/** What one attempt needs: the provider, where frames go, and the process's frame clock. */
export interface AttemptPorts {
  provider: Provider;
  records: StreamRecords;
  live: LiveBuffer;
  events: StreamEvents;
  frames: FrameOptions;
  frameClock: FrameTimers;
  logger: Logger;
  /** Observes every flushed frame (metrics). */
  onFrame?: (tokens: number, chars: number, flushMs: number) => void;
}

export interface Attempt {
  streamId: string;
  threadId: string;
  messageId: string;
  model: string;
  attempt: number;
  history: ChatTurn[];
  control: AbortController;
}

/** How an attempt ran: what it produced, and why it stopped if it did not finish. */
export interface AttemptResult {
  content: string;
  /** The last frame sent: `content` is what frames 1..seq carried. */
  seq: number;
  tokens: number;
  /** Set when the run stopped early: cancel, superseded or shutdown. */
  abortedBy: AbortReason | null;
  /** The provider's error, when it failed; `content` and `seq` are then the partial answer. */
  failure: unknown;
}

/**
 * Runs one attempt: provider tokens → frames. A frame is flushed every `frameMs` on the
 * frame clock (or when it reaches `maxChars`) as one live-buffer write that carries its
 * `stream.delta`, then a Postgres checkpoint at most every `checkpointMs`. A provider
 * error ends the run with what was sent; so does an abort.
 */
export async function runAttempt(a: Attempt, ports: AttemptPorts): Promise<AttemptResult> {
  const { streamId, threadId, attempt, control } = a;
  let content = '';
  let tokens = 0;
  let frameTokens = 0;
  let seq = 0;
  let failure: unknown = null;
  const checkpoints = new Checkpointer(ports.records, a, ports.frames.checkpointMs, ports.logger);

  const coalescer = new FrameCoalescer(ports.frames, async (text, firstTokenAt) => {
    const frameSeq = seq + 1;
    const counted = frameTokens;
    frameTokens = 0;
    const started = performance.now();
    const delta = ports.events.delta({ streamId, threadId, attempt, seq: frameSeq, text, at: firstTokenAt });
    const outcome = await ports.live.appendFrame(a, attempt, frameSeq, text, delta);
    seq = frameSeq;
    content += text;
    ports.onFrame?.(counted, text.length, performance.now() - started);
    if (outcome === 'superseded') control.abort('superseded' satisfies AbortReason);
    else if (outcome === 'cancel-requested') control.abort('cancel' satisfies AbortReason);
    else checkpoints.maybe(frameSeq, content);
  }, ports.frameClock);

  try {
    for await (const token of ports.provider.stream({ model: a.model, messages: a.history, attempt, signal: control.signal })) {
      if (control.signal.aborted) break;
      tokens++;
      frameTokens++;
      coalescer.push(token);
    }
  } catch (err) {
    if (!control.signal.aborted) failure = err;
  }
  const abortedBy = control.signal.aborted ? (control.signal.reason as AbortReason) : null;
  // A superseded or handed-back attempt's tail belongs to no one; anything else shows what was produced.
  if (abortedBy === 'superseded' || abortedBy === 'shutdown') coalescer.discard();
  else await coalescer.drain().catch((err: unknown) => (failure ??= err));
  await checkpoints.settle();
  return { content, seq, tokens, abortedBy, failure };
}
