import type { Logger, Redis } from '@bgs/server';
import type { RealtimeServer } from './socket-server';

/**
 * Redis pub/sub is fire-and-forget: whatever the workers published while this
 * instance's adapter subscriber was reconnecting (a Redis restart) never reaches its
 * sockets, so a client could wait forever for a final event. Once the subscriber is
 * back, close this instance's socket connections: clients reconnect, open their threads
 * again, and the snapshot plus the resume rule fill the gap.
 */
export function resyncAfterRedisLoss(io: RealtimeServer, subscriber: Redis, logger: Logger): void {
  let interrupted = false;
  subscriber.on('close', () => (interrupted = true));
  subscriber.on('ready', () => {
    if (!interrupted) return;
    interrupted = false;
    // ioredis re-sends the subscriptions right after 'ready'; a PING answered after them
    // proves they are in place before any client reads its snapshot again.
    setImmediate(() => {
      subscriber.ping().then(
        () => {
          const sockets = [...io.of('/').sockets.values()];
          logger.warn({ sockets: sockets.length }, 'redis subscriber reconnected; closing sockets so clients resync');
          for (const socket of sockets) socket.conn.close();
        },
        (err: Error) => logger.warn({ err: err.message }, 'redis subscriber reconnected but did not answer; sockets kept'),
      );
    });
  });
}
