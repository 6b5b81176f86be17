import type { StreamPosition, StreamRef, TerminalStreamStatus } from '@bgs/shared';
import type { Announcement } from '../events/stream-events';

/** `superseded`: another attempt owns the stream now; `cancel-requested`: stop and keep what was sent. */
export type FrameOutcome = 'appended' | 'cancel-requested' | 'superseded';

/**
 * The live content of running streams: what a client that arrives mid-answer is shown,
 * and where attempts, frames and cancels meet. Redis (Lua) in background mode, memory
 * in direct mode; the same behaviour suite runs against both.
 */
export interface LiveBuffer {
  /** Starts a new attempt from empty content; null when the stream already ended. */
  beginAttempt(stream: StreamRef): Promise<{ attempt: number; cancelled: boolean } | null>;
  /**
   * Appends frame `seq` of `attempt` and sends its announcement, in one step; a frame
   * already appended (the same call resent after a lost reply) is not applied again.
   */
  appendFrame(stream: StreamRef, attempt: number, seq: number, text: string, delta: Announcement): Promise<FrameOutcome>;
  /** Records the final status once and sends the end announcement; false when it had already ended. */
  finish(stream: StreamRef, status: TerminalStreamStatus, seq: number | null, ended: Announcement): Promise<boolean>;
  /** Flags the stream cancelled and stops whichever generation runs it. */
  requestCancel(stream: StreamRef): Promise<void>;
  read(stream: StreamRef): Promise<StreamPosition | null>;
}
