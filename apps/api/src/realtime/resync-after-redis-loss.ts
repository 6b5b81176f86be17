import { isCluster, type Logger, type RedisClient } from '@bgs/server';
import type { RealtimeServer } from './socket-server';

/**
 * Redis pub/sub is fire-and-forget: whatever the workers published while this
 * instance's adapter subscriber was reconnecting (a Redis restart, a cluster failover)
 * never reaches its sockets, so a client could wait forever for a final event. Once the
 * subscriber is back, close this instance's socket connections: clients reconnect, open
 * their threads again, and the snapshot plus the resume rule fill the gap.
 */
export function resyncAfterRedisLoss(io: RealtimeServer, subscriber: RedisClient, logger: Logger): void {
  let interrupted = false;
  const resync = () => {
    const sockets = [...io.of('/').sockets.values()];
    logger.warn({ sockets: sockets.length }, 'redis subscriber reconnected; closing sockets so clients resync');
    for (const socket of sockets) socket.conn.close();
  };
  if (isCluster(subscriber)) {
    // One sharded subscriber per shard: a master that dies takes its subscriber with it;
    // after the failover the group re-subscribes on the new master ('subscribersReady'
    // follows the SSUBSCRIBEs it sent; the short wait lets their replies come back).
    subscriber.on('-node', () => (interrupted = true));
    subscriber.on('-subscriber', () => (interrupted = true));
    subscriber.on('subscribersReady', () => {
      if (!interrupted) return;
      interrupted = false;
      setTimeout(resync, 250).unref();
    });
    return;
  }
  subscriber.on('close', () => (interrupted = true));
  subscriber.on('ready', () => {
    if (!interrupted) return;
    interrupted = false;
    // ioredis re-sends the subscriptions right after 'ready'; a PING answered after them
    // proves they are in place before any client reads its snapshot again.
    setImmediate(() => {
      subscriber.ping().then(
        resync,
        (err: Error) => logger.warn({ err: err.message }, 'redis subscriber reconnected but did not answer; sockets kept'),
      );
    });
  });
}
