import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig, type Capabilities } from '@bgs/shared';
import {
  closeRedis,
  createDatabase,
  createLogger,
  createProvider,
  createRedis,
  FrameClock,
  LiveStreamStore,
  onShutdown,
  PresenceStore,
  redisKeys,
  StreamFinisher,
  StreamStore,
} from '@bgs/server';
import { queueBoardRoutes } from './admin/queue-board';
import { createApp } from './app';
import { answerClientErrorsWithJson } from './http/client-errors';
import { UserRegistry } from './auth/require-user';
import { DirectGenerator } from './direct/direct-generator';
import { createGenerationQueue } from './generation/generation-queue';
import { MessageSender } from './messages/message-sender';
import { MessageStore } from './messages/message-store';
import { memoryRateLimiter, redisRateLimiter } from './messages/send-rate-limiter';
import { ApiMetrics } from './observability/api-metrics';
import { PresenceTracker } from './presence/presence-tracker';
import { createRealtimeServer, type RealtimeServer } from './realtime/socket-server';
import { StreamCanceller } from './streams/stream-canceller';
import { StreamReader } from './streams/stream-reader';
import { ThreadStore } from './threads/thread-store';

/** The API process: REST + socket.io (background mode) or REST + SSE (direct mode). */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger('api', config.logLevel);
  const db = createDatabase(config.databaseUrl, { max: config.databasePoolSize });
  const { prisma } = db;
  // A process's first Prisma query connects and loads the query compiler (0.5–2 s): pay it now,
  // in the background, rather than on the first user's request. Failing here changes nothing.
  prisma.stream.findFirst({ select: { id: true } }).catch((err: Error) => logger.warn({ err: err.message }, 'database warm-up failed; queries will retry'));
  const streams = new StreamStore(prisma);
  const threads = new ThreadStore(prisma);
  const messages = new MessageStore(prisma);
  const users = new UserRegistry(prisma);
  const provider = createProvider(config.provider);
  const capabilities: Capabilities = {
    backgroundStreaming: config.backgroundStreaming,
    realtime: config.redis ? 'socket.io' : null,
    providers: [provider.name],
    defaultModel: config.provider.model,
  };
  const closers: Array<() => Promise<unknown>> = [];
  const metrics = new ApiMetrics();
  const server = http.createServer();
  answerClientErrorsWithJson(server);
  let io: RealtimeServer | null = null;

  if (config.redis) {
    const keys = redisKeys(config.redis.prefix);
    // HTTP paths fail fast while Redis is down (503), instead of queueing commands.
    const commands = createRedis(config.redis.url, { name: 'api-commands', failFast: true });
    const pubClient = createRedis(config.redis.url, { name: 'api-socket-pub' });
    const subClient = createRedis(config.redis.url, { name: 'api-socket-sub' });
    for (const c of [commands, pubClient, subClient]) c.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis connection error'));
    const live = new LiveStreamStore(commands, keys, config.frames.liveTtlSeconds);
    const queue = createGenerationQueue(config.redis.url, keys, config.worker, logger);
    const finisher = new StreamFinisher(streams, live, keys);
    const reader = new StreamReader(prisma, live);
    const canceller = new StreamCanceller({ live, queue, local: null, finisher, logger });
    const presence = new PresenceTracker(new PresenceStore(commands, keys, config.presenceTtlMs), logger);
    const sender = new MessageSender(messages, queue, redisRateLimiter(commands, keys, config.rateLimit.sends, config.rateLimit.windowMs), logger);
    const queueBoard = config.auth.adminToken ? queueBoardRoutes(config.auth.adminToken, [queue.queue]) : null;
    // Express takes the server's requests before socket.io attaches: engine.io then passes
    // it everything but /socket.io/ (attached after, express would also answer long-polling).
    server.on('request', createApp({
      prisma, redis: commands, users, threads, canceller, capabilities, logger, messages, reader, sender, direct: null,
      defaultModel: config.provider.model, maxMessageChars: config.http.maxMessageChars, maxBodyBytes: config.http.maxBodyBytes,
      auth: config.auth, metrics, queueBoard,
    }));
    io = createRealtimeServer(server, { secret: config.auth.secret, users, pubClient, subClient, socketIoKey: keys.socketIoKey, logger, threads, reader, presence });
    metrics.watchRealtime(io, presence);
    metrics.watchQueue(queue.queue, logger);
    presence.start();
    closers.push(
      () => presence.stop(),
      () => queue.close(),
      () => closeRedis(subClient),
      () => closeRedis(pubClient),
      () => closeRedis(commands),
    );
  } else {
    const finisher = new StreamFinisher(streams, null, null);
    const generator = new DirectGenerator({ provider, streams, finisher, frames: config.frames, frameClock: new FrameClock(config.frames.frameMs), logger });
    const reader = new StreamReader(prisma, generator);
    const canceller = new StreamCanceller({ live: null, queue: null, local: generator, finisher, logger });
    server.on('request', createApp({
      prisma, redis: null, users, threads, canceller, capabilities, logger, messages, reader, sender: null,
      direct: { generator, rateLimiter: memoryRateLimiter(config.rateLimit.sends, config.rateLimit.windowMs) },
      defaultModel: config.provider.model, maxMessageChars: config.http.maxMessageChars, maxBodyBytes: config.http.maxBodyBytes,
      auth: config.auth, metrics, queueBoard: null,
    }));
    metrics.watchDirect(generator);
  }

  await new Promise<void>((resolve) => server.listen(config.http.port, config.http.host, resolve));
  const { port } = server.address() as AddressInfo;
  logger.info({ port, host: config.http.host, backgroundStreaming: config.backgroundStreaming, provider: provider.name, queueBoard: Boolean(config.redis && config.auth.adminToken) }, 'listening');

  onShutdown(logger, async () => {
    // Stop accepting and disconnect the sockets at once; let in-flight responses finish
    // within the grace period, then cut what is left and close the clients.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // A keep-alive connection would hold the close until its idle timeout: drop each once its response is done.
    const dropIdle = setInterval(() => server.closeIdleConnections(), 100);
    server.closeIdleConnections();
    // Not awaited yet: io.close() also waits for the HTTP server to drain, past any grace period.
    const ioClosed = io ? io.close() : Promise.resolve();
    await Promise.race([closed, new Promise((r) => setTimeout(r, config.shutdownGraceMs).unref())]);
    clearInterval(dropIdle);
    server.closeAllConnections();
    await ioClosed;
    for (const close of closers) await close();
    await db.close();
  }, config.shutdownGraceMs + 10_000);
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
