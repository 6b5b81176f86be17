import type { SendMessageResult } from '@bgs/shared';
import type { Announcement, StreamEnd, StreamEvents } from './stream-events';

/** The part of an HTTP response an event stream writes to. */
export interface EventStreamResponse {
  write(chunk: string): unknown;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
}

/** Writes one server-sent event; after a disconnect there is nobody to write to. */
export function writeServerSentEvent(res: EventStreamResponse, event: string, data: unknown): void {
  if (!res.writableEnded && !res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/**
 * Direct mode's stream events: server-sent events in the response of the send itself.
 * `started` carries the send's answer (the ids a client needs, e.g. to cancel); `delta`
 * `{seq, text}`; then one of `completed {message}`, `failed {error, message}`,
 * `cancelled {message}`. See docs/protocol.md.
 */
export class SseStreamEvents implements StreamEvents {
  constructor(
    private readonly res: EventStreamResponse,
    private readonly sent: SendMessageResult,
  ) {}

  started(): Announcement {
    return this.announce('started', this.sent);
  }

  /** Direct mode runs a single attempt: there is never a reset to tell. */
  reset(): Announcement {
    return { send: async () => undefined };
  }

  delta(e: Parameters<StreamEvents['delta']>[0]): Announcement {
    return this.announce('delta', { seq: e.seq, text: e.text });
  }

  ended(end: StreamEnd): Announcement {
    const message = end.message ? { message: end.message } : {};
    if (end.status === 'failed') return this.announce('failed', { error: end.error, ...message });
    return this.announce(end.status, message);
  }

  private announce(event: string, data: unknown): Announcement {
    return { send: async () => writeServerSentEvent(this.res, event, data) };
  }
}
