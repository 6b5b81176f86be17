import {
  CancelSignals,
  createLogger,
  createSimulatedProvider,
  FrameClock,
  RedisLiveBuffer,
  roomWireFor,
  SocketIoStreamEvents,
  StreamRecords,
  type RedisClient,
  type RedisKeys,
  type SqlRunner,
} from '@bgs/server';
import { createGenerationProcessor } from '../../apps/worker/src/generation/generation-processor';
import { testRedisTarget } from './redis-target';

/**
 * The worker's generation processor with the background mode's adapters (as
 * `apps/worker/src/main.ts` wires them), running in the test's own process on real
 * Postgres and Redis; frames of at most 64 characters every `frameMs`, no checkpoints.
 */
export function inProcessGenerator(deps: { sql: SqlRunner; redis: RedisClient; keys: RedisKeys; frameMs: number; cancels?: CancelSignals }) {
  const { sql, redis, keys, frameMs } = deps;
  return createGenerationProcessor({
    provider: createSimulatedProvider({ tokens: 10, tokensPerSecond: 40 }),
    records: new StreamRecords(sql),
    live: new RedisLiveBuffer(redis, keys, 60),
    events: new SocketIoStreamEvents(redis, roomWireFor(testRedisTarget(), keys)),
    cancels: deps.cancels ?? new CancelSignals(),
    frames: { frameMs, maxChars: 64, checkpointMs: 3_600_000 },
    frameClock: new FrameClock(frameMs),
    logger: createLogger('test', 'silent'),
  });
}
