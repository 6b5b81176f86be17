import { EVENTS, type ThreadCloseAck } from '@bgs/shared';
import type { RealtimeSocket } from './socket-server';

/** What a client may emit; everything else is unknown here. */
const CLIENT_EVENTS = new Set<string>([EVENTS.threadOpen, EVENTS.threadClose]);

/**
 * An event this server does not handle, emitted with an ack, is answered `not_found` at
 * once (as an unknown REST route is), so a client's typo or version skew shows up as an
 * error instead of a silent ack timeout. Without an ack it is ignored.
 */
export function answerUnknownEvents(socket: RealtimeSocket): void {
  socket.onAny((event: string, ...args: unknown[]) => {
    if (CLIENT_EVENTS.has(event)) return;
    const ack = args[args.length - 1];
    if (typeof ack === 'function') ack({ ok: false, error: { code: 'not_found', message: 'unknown event' } } satisfies ThreadCloseAck);
  });
}
