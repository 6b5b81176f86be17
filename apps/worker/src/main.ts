import { Worker } from 'bullmq';
import { ConfigError, GENERATION_QUEUE, loadConfig, type Config, type GenerationJob, type GenerationResult } from '@bgs/shared';
import {
  bullConnection,
  CancelSignals,
  closeRedis,
  createDatabase,
  createGenerationQueue,
  createLogger,
  createProvider,
  createRedis,
  FrameClock,
  listenForCancels,
  onShutdown,
  PresenceStore,
  redisKeys,
  RedisLiveBuffer,
  roomWireFor,
  SocketIoStreamEvents,
  StreamRecords,
  type Logger,
} from '@bgs/server';
import { createGenerationProcessor } from './generation/generation-processor';
import { CompletionListener } from './notifications/completion-listener';
import { LostStreamReaper } from './notifications/lost-stream-reaper';
import { NotificationDecider, roomPusher } from './notifications/notification-decider';
import { StreamSweep } from './notifications/stream-sweep';
import { MetricsServer } from './observability/metrics-server';
import { WorkerMetrics } from './observability/worker-metrics';

/** The worker process: generations (role `generator`), notifications (role `listener`), or both. */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger('worker', config.logLevel);
  if (!config.redis) {
    logger.info('BACKGROUND_STREAMING is off: there is no queue to work on; exiting');
    return;
  }
  const { target, prefix } = config.redis;
  const keys = redisKeys(prefix);
  const wire = roomWireFor(target, keys);
  const db = createDatabase(config.databaseUrl, { max: config.databasePoolSize });
  // Connect the pool now rather than on the first job. Plain SQL on the pool, like every
  // query of the worker: Prisma's query compiler (about 100 MiB) is never loaded here.
  db.pool.query('SELECT 1').catch((err: Error) => logger.warn({ err: err.message }, 'database warm-up failed; queries will retry'));
  // Auto-pipelining: the frames flushed on one clock tick leave in one socket write.
  const commands = createRedis(target, { name: 'worker-commands', enableAutoPipelining: true });
  const subscriber = createRedis(target, { name: 'worker-cancel-subscriber' });
  for (const c of [commands, subscriber]) c.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis connection error'));
  // The adapters of a stream's life in background mode: Postgres, the Redis live buffer, socket.io rooms over Redis.
  const records = new StreamRecords(db.sql);
  const live = new RedisLiveBuffer(commands, keys, config.frames.liveTtlSeconds);
  const events = new SocketIoStreamEvents(commands, wire);
  const cancels = new CancelSignals((streamId, reason) => logger.info({ streamId, reason }, 'aborting generation'));
  const closers: Array<() => Promise<unknown>> = [];
  const metrics = new WorkerMetrics();
  // Before taking any job, so a taken port fails the start instead of a running worker.
  const metricsServer = config.metrics.workerPort === null ? null : new MetricsServer(metrics.registry);
  if (metricsServer && config.metrics.workerPort !== null) {
    const port = await metricsServer.listen(config.metrics.workerPort, config.http.host);
    logger.info({ port, host: config.http.host }, 'metrics listening');
  }

  let worker: Worker<GenerationJob, GenerationResult> | null = null;
  if (config.worker.role !== 'listener') {
    const stopListening = await listenForCancels(subscriber, keys, cancels);
    const bull = bullConnection(target);
    worker = new Worker<GenerationJob, GenerationResult>(
      GENERATION_QUEUE,
      createGenerationProcessor({
        provider: createProvider(config.provider),
        records,
        live,
        events,
        cancels,
        frames: config.frames,
        frameClock: new FrameClock(config.frames.frameMs),
        logger,
        onFrame: metrics.onFrame,
        onEnd: metrics.onEnd,
      }),
      {
        connection: bull.connection,
        prefix: keys.bullPrefix,
        concurrency: config.worker.concurrency,
        lockDuration: config.worker.lockDurationMs,
        stalledInterval: config.worker.stalledIntervalMs,
        maxStalledCount: config.worker.maxStalledCount,
      },
    );
    worker.on('error', (err) => logger.error({ err: err.message }, 'worker error'));
    worker.on('stalled', (jobId) => logger.warn({ jobId, streamId: jobId }, 'job stalled: its worker died; another attempt will run'));
    await worker.waitUntilReady();
    metrics.watchRunning(cancels);
    closers.push(() => stopGenerating(worker as Worker, cancels, config, logger), () => bull.close(), stopListening);
  }

  if (config.worker.role !== 'generator') {
    const queue = createGenerationQueue({ redis: target, keys, worker: config.worker, logger, failFast: false });
    const presence = new PresenceStore(commands, keys, config.presenceTtlMs);
    const decider = new NotificationDecider(db.sql, presence, roomPusher(commands, wire, logger), logger, metrics.onDecision);
    const reaper = new LostStreamReaper(queue, { records, live, events }, logger);
    const listener = new CompletionListener({ redis: target, cursor: commands, keys, decider, reaper, logger });
    const sweep = new StreamSweep(db.sql, decider, reaper, {
      intervalMs: config.worker.sweepIntervalMs,
      decideAfterMs: Math.min(2_000, config.worker.sweepIntervalMs),
      reapAfterMs: config.worker.lockDurationMs * 2,
    }, logger);
    await listener.start();
    sweep.start();
    // After the generations: a SIGTERM stops taking jobs at once, and the notifications of
    // generations that finish in the grace period are still decided by this process.
    closers.push(() => listener.close(), () => sweep.close(), () => queue.close());
  }

  logger.info({ role: config.worker.role, concurrency: config.worker.concurrency, provider: config.provider.kind, redis: target.kind }, 'worker ready');
  onShutdown(logger, async () => {
    for (const close of closers) await close();
    await metricsServer?.close(); // last: the final figures stay scrapable while work drains
    await closeRedis(subscriber);
    await closeRedis(commands);
    await db.close();
  }, config.shutdownGraceMs + 15_000);
}

/**
 * Stops taking jobs and lets running generations finish within the grace period;
 * past it, hands the rest back to the queue so another worker resumes them at once.
 */
async function stopGenerating(worker: Worker, cancels: CancelSignals, config: Config, logger: Logger): Promise<void> {
  const closing = worker.close();
  const finished = await Promise.race([closing.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), config.shutdownGraceMs).unref())]);
  if (!finished) {
    logger.info({ running: cancels.size }, 'grace period over: handing running generations back');
    cancels.abortAll('shutdown');
    await closing;
  }
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
