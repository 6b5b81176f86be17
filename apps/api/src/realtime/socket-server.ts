import type { Server as HttpServer } from 'node:http';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { Server, type Socket } from 'socket.io';
import { ApiError, rooms, type ClientToServerEvents, type ServerToClientEvents } from '@bgs/shared';
import { adapterParser, isDatabaseUnavailable, type Logger, type RedisClient, type RoomWire } from '@bgs/server';
import type { UserRegistry } from '../auth/require-user';
import { verifyTokenClaims } from '../auth/tokens';
import { CorkingWebSocketServer } from './corking-ws-server';
import { resyncAfterRedisLoss } from './resync-after-redis-loss';
import { disconnectWhenTokenExpires } from './session-expiry';
import { forgetDeletedThreads, THREAD_DELETED_SERVER_EVENT } from './thread-deletions';
import { registerThreadHandlers, type ThreadHandlerDeps } from './thread-handlers';
import { answerUnknownEvents } from './unknown-events';

/** Events between API instances (server-side emits over the Redis adapter). */
export interface InterServerEvents {
  /** A thread was deleted: each instance's sockets leave its room and drop its presence. */
  [THREAD_DELETED_SERVER_EVENT]: (threadId: string) => void;
}

/** What the handshake established: the user, and when the token expires (ms since the epoch; none without `exp`). */
export interface SocketData {
  userId: string;
  tokenExpiresAt?: number;
}

export type RealtimeServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type RealtimeSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export interface RealtimeDeps extends ThreadHandlerDeps {
  secret: string;
  users: UserRegistry;
  pubClient: RedisClient;
  subClient: RedisClient;
  socketIoKey: string;
  /** How room events travel over Redis; the adapter reads them the same way. */
  wire: RoomWire;
  logger: Logger;
}

/**
 * socket.io on the API's HTTP server, with the Redis adapter so a worker's emitter
 * reaches sockets on every instance. Each socket joins `user:<id>`; `thread.open`
 * joins `thread:{<id>}`. A socket is disconnected when its token expires, after
 * `session.expired`; a deleted thread's room and presence are dropped on every instance.
 */
export function createRealtimeServer(http: HttpServer, deps: RealtimeDeps): RealtimeServer {
  const io: RealtimeServer = new Server(http, {
    serveClient: false,
    cors: { origin: true },
    wsEngine: CorkingWebSocketServer,
    adapter: deps.wire.kind === 'sharded'
      // 'dynamic': each room has its own channel, in its room's slot: a frame reaches only that shard.
      ? createShardedAdapter(deps.pubClient, deps.subClient, { channelPrefix: deps.socketIoKey, subscriptionMode: 'dynamic' })
      : createAdapter(deps.pubClient, deps.subClient, { key: deps.socketIoKey, parser: adapterParser }),
  });
  resyncAfterRedisLoss(io, deps.subClient, deps.logger);
  forgetDeletedThreads(io, deps.presence, deps.logger);
  io.use((socket, next) => {
    try {
      const token = (socket.handshake.auth as { token?: unknown })?.token;
      const claims = verifyTokenClaims(typeof token === 'string' ? token : undefined, deps.secret);
      socket.data.userId = claims.userId;
      socket.data.tokenExpiresAt = claims.expiresAt;
    } catch {
      return next(new Error('unauthorized'));
    }
    deps.users.ensure(socket.data.userId).then(
      () => next(),
      (err: Error) => next(new Error(isDatabaseUnavailable(err) ? 'unavailable' : 'internal')),
    );
  });
  io.on('connection', (socket) => {
    void socket.join(rooms.user(socket.data.userId));
    registerThreadHandlers(socket, deps);
    answerUnknownEvents(socket);
    disconnectWhenTokenExpires(socket, socket.data.tokenExpiresAt);
  });
  return io;
}

/** The `{ok:false, error}` an ack carries for any error. */
export function ackError(err: unknown, logger: Logger, context: Record<string, unknown>): { ok: false; error: { code: ApiError['code']; message?: string } } {
  if (err instanceof ApiError) return { ok: false, error: { code: err.code, message: err.message } };
  if (isDatabaseUnavailable(err)) return { ok: false, error: { code: 'unavailable', message: 'retry shortly' } };
  logger.error({ ...context, err: (err as Error)?.message }, 'socket handler failed');
  return { ok: false, error: { code: 'internal' } };
}
