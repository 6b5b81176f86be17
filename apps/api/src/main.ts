import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig, type Capabilities, type Config } from '@bgs/shared';
import {
  CancelSignals,
  closeRedis,
  createDatabase,
  createGenerationQueue,
  createLogger,
  createProvider,
  createRedis,
  FrameClock,
  MemoryLiveBuffer,
  onShutdown,
  PresenceStore,
  redisKeys,
  RedisLiveBuffer,
  roomWireFor,
  SocketIoStreamEvents,
  StreamRecords,
  type Database,
  type Logger,
  type Provider,
} from '@bgs/server';
import { queueBoardRoutes } from './admin/queue-board';
import { createApp, type AppDeps } from './app';
import { followedChatStreaming } from './chat/followed-chat-streaming';
import { generatedChatStreaming } from './chat/generated-chat-streaming';
import { RoomFollower } from './chat/room-follower';
import { answerClientErrorsWithJson } from './http/client-errors';
import { UserRegistry } from './auth/require-user';
import { streamedDelivery } from './direct/streamed-delivery';
import { unheardStreamEvents } from './direct/unheard-stream-events';
import { MessageSender } from './messages/message-sender';
import { MessageStore } from './messages/message-store';
import { memoryRateLimiter, redisRateLimiter } from './messages/send-rate-limiter';
import { queuedDelivery, turnEnqueuer } from './messages/turn-delivery';
import { ApiMetrics } from './observability/api-metrics';
import { PresenceTracker } from './presence/presence-tracker';
import { createRealtimeServer, type RealtimeServer } from './realtime/socket-server';
import { SocketIoThreadDeletions } from './realtime/thread-deletions';
import { StreamCanceller } from './streams/stream-canceller';
import { StreamReader } from './streams/stream-reader';
import { ThreadStore } from './threads/thread-store';

/** What both modes build the same way. */
interface Common {
  config: Config;
  logger: Logger;
  db: Database;
  records: StreamRecords;
  messages: MessageStore;
  provider: Provider;
  metrics: ApiMetrics;
  server: http.Server;
}

/** The mode's own part of the app, and what to close on shutdown. */
interface Mode {
  app: Pick<AppDeps, 'readiness' | 'reader' | 'canceller' | 'sender' | 'delivery' | 'chat' | 'queueBoard' | 'threadDeletions'>;
  /** Attaches what the mode serves beside express (socket.io), once express has the server's requests. */
  attach(): void;
  /** Disconnects the mode's sockets; resolves once they are closed (it also waits for the HTTP server). */
  closeSockets(): Promise<void>;
  closers: Array<() => Promise<unknown>>;
}

/**
 * Background mode: Redis live buffer, socket.io rooms over Redis, the queue, presence.
 * Sends are enqueued for workers; the socket server follows threads.
 */
function backgroundMode(c: Common, redis: NonNullable<Config['redis']>, users: UserRegistry, threads: ThreadStore): Mode {
  const { config, logger, db } = c;
  const keys = redisKeys(redis.prefix);
  // HTTP paths fail fast while Redis is down (503), instead of queueing commands.
  const wire = roomWireFor(redis.target, keys);
  const commands = createRedis(redis.target, { name: 'api-commands', failFast: true });
  const pubClient = createRedis(redis.target, { name: 'api-socket-pub' });
  const subClient = createRedis(redis.target, { name: 'api-socket-sub' });
  const chatSubscriber = createRedis(redis.target, { name: 'api-chat-rooms' });
  for (const client of [commands, pubClient, subClient, chatSubscriber]) client.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis connection error'));
  const live = new RedisLiveBuffer(commands, keys, config.frames.liveTtlSeconds);
  const queue = createGenerationQueue({ redis: redis.target, keys, worker: config.worker, logger, failFast: true });
  const reader = new StreamReader(db.sql, live);
  const presence = new PresenceTracker(new PresenceStore(commands, keys, config.presenceTtlMs), logger);
  const enqueue = turnEnqueuer(queue, c.messages, logger);
  const delivery = queuedDelivery(enqueue);
  const rateLimiter = redisRateLimiter(commands, keys, config.rateLimit.sends, config.rateLimit.windowMs);
  const chatStreaming = followedChatStreaming({
    follower: new RoomFollower(chatSubscriber, wire, logger), enqueue, reader, presence, prisma: db.prisma, logger,
  });
  let io: RealtimeServer | undefined;
  c.metrics.watchQueue(queue.queue, logger);
  return {
    app: {
      readiness: { postgres: () => db.prisma.$queryRaw`SELECT 1`, redis: () => commands.ping() },
      reader,
      canceller: new StreamCanceller({ pending: queue, ending: { records: c.records, live, events: new SocketIoStreamEvents(commands, wire) }, logger }),
      sender: new MessageSender(c.messages, rateLimiter, delivery),
      delivery,
      chat: { sender: new MessageSender(c.messages, rateLimiter, chatStreaming), streaming: chatStreaming },
      queueBoard: config.auth.adminToken ? queueBoardRoutes(config.auth.adminToken, [queue.queue]) : null,
      threadDeletions: new SocketIoThreadDeletions(commands, wire, logger),
    },
    attach() {
      io = createRealtimeServer(c.server, { secret: config.auth.secret, users, pubClient, subClient, socketIoKey: keys.socketIoKey, wire, logger, threads, reader, presence });
      c.metrics.watchRealtime(io, presence);
      presence.start();
    },
    closeSockets: async () => io?.close(),
    closers: [() => presence.stop(), () => queue.close(), () => closeRedis(chatSubscriber), () => closeRedis(subClient), () => closeRedis(pubClient), () => closeRedis(commands)],
  };
}

/** Direct mode: no Redis; each answer streams in its own response over an in-memory live buffer. */
function directMode(c: Common): Mode {
  const { config, logger, db } = c;
  const cancels = new CancelSignals((streamId, reason) => logger.info({ streamId, reason }, 'aborting generation'));
  const live = new MemoryLiveBuffer({ endedTtlMs: config.frames.liveTtlSeconds * 1000, onCancelRequested: (streamId) => cancels.abort(streamId, 'cancel') });
  const ports = { provider: c.provider, records: c.records, live, frames: config.frames, frameClock: new FrameClock(config.frames.frameMs), logger };
  const delivery = streamedDelivery(ports, cancels);
  const chatStreaming = generatedChatStreaming(ports, cancels);
  const rateLimiter = memoryRateLimiter(config.rateLimit.sends, config.rateLimit.windowMs);
  // A stream this process does not run is not running anywhere: there is one API and no worker.
  const pending = { removeIfNotRunning: async (streamId: string) => (cancels.has(streamId) ? 'running' as const : 'missing' as const) };
  c.metrics.watchDirect(cancels);
  return {
    app: {
      readiness: { postgres: () => db.prisma.$queryRaw`SELECT 1` },
      reader: new StreamReader(db.sql, live),
      canceller: new StreamCanceller({ pending, ending: { records: c.records, live, events: unheardStreamEvents }, logger }),
      sender: new MessageSender(c.messages, rateLimiter, delivery),
      delivery,
      chat: { sender: new MessageSender(c.messages, rateLimiter, chatStreaming), streaming: chatStreaming },
      queueBoard: null,
      // No sockets in direct mode: a deleted thread has nobody else to tell.
      threadDeletions: { threadDeleted: async () => undefined },
    },
    attach: () => undefined,
    closeSockets: async () => undefined,
    closers: [],
  };
}

/** The API process: REST + socket.io (background mode) or REST + SSE (direct mode). */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger('api', config.logLevel);
  const db = createDatabase(config.databaseUrl, { max: config.databasePoolSize });
  const { prisma } = db;
  // A process's first Prisma query connects and loads the query compiler (0.5–2 s): pay it now,
  // in the background, rather than on the first user's request. Failing here changes nothing.
  prisma.stream.findFirst({ select: { id: true } }).catch((err: Error) => logger.warn({ err: err.message }, 'database warm-up failed; queries will retry'));
  const threads = new ThreadStore(prisma, db.sql);
  const users = new UserRegistry(prisma);
  const provider = createProvider(config.provider);
  const capabilities: Capabilities = {
    backgroundStreaming: config.backgroundStreaming,
    realtime: config.redis ? 'socket.io' : null,
    providers: [provider.name],
    defaultModel: config.provider.model,
  };
  const metrics = new ApiMetrics();
  const server = http.createServer();
  // Longer than a proxy's idle timeout (60 s is common) and a browser's: a kept connection
  // costs nothing, while a new one waits for a turn of a busy event loop to be accepted
  // (libuv accepts one connection per turn), about a second when a burst of sends arrives.
  server.keepAliveTimeout = config.http.keepAliveMs;
  server.headersTimeout = config.http.keepAliveMs + 1_000;
  answerClientErrorsWithJson(server);
  const common: Common = { config, logger, db, records: new StreamRecords(db.sql), messages: new MessageStore(prisma, db.sql), provider, metrics, server };
  const mode = config.redis ? backgroundMode(common, config.redis, users, threads) : directMode(common);
  // Express takes the server's requests before socket.io attaches: engine.io then passes
  // it everything but /socket.io/ (attached after, express would also answer long-polling).
  server.on('request', createApp({
    ...mode.app, prisma, users, threads, capabilities, logger, messages: common.messages,
    defaultModel: config.provider.model, maxMessageChars: config.http.maxMessageChars, maxBodyBytes: config.http.maxBodyBytes,
    auth: config.auth, metrics,
  }));
  mode.attach();

  await new Promise<void>((resolve) => server.listen(config.http.port, config.http.host, resolve));
  const { port } = server.address() as AddressInfo;
  logger.info({ port, host: config.http.host, backgroundStreaming: config.backgroundStreaming, provider: provider.name, ...(config.redis ? { redis: config.redis.target.kind } : {}), queueBoard: Boolean(config.redis && config.auth.adminToken) }, 'listening');

  onShutdown(logger, async () => {
    // Stop accepting and disconnect the sockets at once; let in-flight responses finish
    // within the grace period, then cut what is left and close the clients.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // A keep-alive connection would hold the close until its idle timeout: drop each once its response is done.
    const dropIdle = setInterval(() => server.closeIdleConnections(), 100);
    server.closeIdleConnections();
    // Not awaited yet: io.close() also waits for the HTTP server to drain, past any grace period.
    const socketsClosed = mode.closeSockets();
    await Promise.race([closed, new Promise((r) => setTimeout(r, config.shutdownGraceMs).unref())]);
    clearInterval(dropIdle);
    server.closeAllConnections();
    await socketsClosed;
    for (const close of mode.closers) await close();
    await db.close();
  }, config.shutdownGraceMs + 10_000);
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
