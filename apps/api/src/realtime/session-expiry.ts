import { EVENTS, type SessionExpiredEvent } from '@bgs/shared';
import type { RealtimeSocket } from './socket-server';

/** setTimeout's longest delay (about 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A socket lives no longer than the token it connected with: when the token's `exp`
 * comes, the socket gets `session.expired` and the server disconnects it (a client
 * reconnects with a fresh token; the old one is refused `unauthorized`). One timer per
 * socket, cleared when it disconnects; none for a token without `exp`.
 */
export function disconnectWhenTokenExpires(socket: RealtimeSocket, expiresAt: number | undefined): void {
  if (expiresAt === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const left = expiresAt - Date.now();
    if (left > 0) {
      // Far-off expiries are reached in steps of the longest delay a timer allows.
      timer = setTimeout(check, Math.min(left, MAX_TIMER_MS));
      timer.unref();
      return;
    }
    timer = undefined;
    if (socket.disconnected) return;
    socket.emit(EVENTS.sessionExpired, { reason: 'token_expired', expiredAt: new Date(expiresAt).toISOString() } satisfies SessionExpiredEvent);
    // Sent after the event: engine.io flushes what is queued before it closes the connection.
    socket.disconnect(true);
  };
  socket.once('disconnect', () => clearTimeout(timer));
  check();
}
