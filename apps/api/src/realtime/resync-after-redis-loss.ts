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
  const resync = () => {
    const sockets = [...io.of('/').sockets.values()];
    logger.warn({ sockets: sockets.length }, 'redis subscriber reconnected; closing sockets so clients resync');
    for (const socket of sockets) socket.conn.close();
  };
  if (isCluster(subscriber)) {
    // One sharded subscriber per shard. A master that dies takes its subscriber with it,
    // and until a replica takes over, ioredis retries it in a loop (-node, subscribersReady,
    // again and again). Once no slot is served by a lost node any more, the group has
    // re-subscribed on the new masters ('subscribersReady' follows those SSUBSCRIBEs; the
    // short wait lets their replies come back): resync once.
    const lost = new Set<string>();
    subscriber.on('-node', (_redis: unknown, nodeKey: string) => lost.add(nodeKey));
    subscriber.on('subscribersReady', () => {
      if (lost.size === 0 || subscriber.slots.some((nodes) => nodes !== undefined && lost.has(nodes[0]))) return;
      lost.clear();
      setTimeout(resync, 250).unref();
    });
    return;
  }
  let interrupted = false;
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
