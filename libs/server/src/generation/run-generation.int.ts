import { randomBytes } from 'node:crypto';
import { rooms, SseParser, type SendMessageResult } from '@bgs/shared';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/database';
import { testRedisTarget } from '../../../../test/support/redis-target';
import { seedStream } from '../../../../test/support/seed';
import { createDatabase, type Database } from '../db/database';
import { roomWireFor } from '../events/socketio-packet';
import { SocketIoStreamEvents } from '../events/socketio-stream-events';
import { SseStreamEvents } from '../events/sse-stream-events';
import type { StreamEvents } from '../events/stream-events';
import type { LiveBuffer } from '../live/live-buffer';
import { MemoryLiveBuffer } from '../live/memory-live-buffer';
import { listenForCancels } from '../live/redis-cancel-listener';
import { RedisLiveBuffer } from '../live/redis-live-buffer';
import { createLogger } from '../logging/logger';
import { createSimulatedProvider } from '../providers/simulated-provider';
import { closeRedis, createRedis } from '../redis/connection';
import { redisKeys } from '../redis/keys';
import { StreamRecords } from '../streams/stream-records';
import { CancelSignals } from './cancel-signals';
import { endWithLiveContent } from './end-stream';
import { FrameClock } from './frame-clock';
import { runGeneration, type GenerationOutcome, type RetryPolicy } from './run-generation';

/**
 * One behaviour suite for a stream's life, run in both modes: background (the Redis
 * live buffer, events published for socket.io rooms, read back from Redis as an API
 * instance's adapter receives them) and direct (the in-memory live buffer, events written
 * as server-sent events, parsed as the browser client parses them). Each test follows
 * what a client applies frame by frame, not only the end state.
 */

/** What a client receives, whatever the transport. */
type Seen =
  | { type: 'started' | 'reset'; attempt: number }
  | { type: 'delta'; attempt: number; seq: number; text: string }
  | { type: 'ended'; status: string; content?: string; code?: string };

interface Stream {
  streamId: string;
  threadId: string;
  messageId: string;
  model: string;
}

interface Mode {
  live: LiveBuffer;
  cancels: CancelSignals;
  /** The events of one stream, and the list they are observed into. */
  eventsFor(stream: Stream): Promise<{ events: StreamEvents; seen: Seen[] }>;
  /** Direct mode runs one attempt: its transport has no reset to tell. */
  tellsReset: boolean;
  close(): Promise<void>;
}

async function backgroundMode(): Promise<Mode> {
  const keys = redisKeys(`rg${randomBytes(4).toString('hex')}`);
  const target = testRedisTarget();
  const wire = roomWireFor(target, keys);
  const redis = createRedis(target, { name: 'suite-commands' });
  const cancelSubscriber = createRedis(target, { name: 'suite-cancels' });
  const roomSubscriber = createRedis(target, { name: 'suite-rooms' });
  const cancels = new CancelSignals();
  const stopCancels = await listenForCancels(cancelSubscriber, keys, cancels);
  const seenByThread = new Map<string, Seen[]>();
  // Read as an API instance's adapter reads the thread's room channel (sharded on a cluster).
  roomSubscriber.on(wire.kind === 'sharded' ? 'smessageBuffer' : 'messageBuffer', (_channel: Buffer, message: Buffer) => {
    const decoded = wire.decode(message);
    if (!decoded) return;
    const { event } = decoded;
    const e = decoded.payload as Record<string, any>;
    const seen = seenByThread.get(e.threadId);
    if (!seen) return;
    if (event === 'stream.started' || event === 'stream.reset') seen.push({ type: event === 'stream.started' ? 'started' : 'reset', attempt: e.attempt });
    else if (event === 'stream.delta') seen.push({ type: 'delta', attempt: e.attempt, seq: e.seq, text: e.text });
    else if (event === 'stream.completed') seen.push({ type: 'ended', status: 'completed', content: e.message.content });
    else if (event === 'stream.failed') seen.push({ type: 'ended', status: 'failed', code: e.error.code });
    else if (event === 'stream.cancelled') seen.push({ type: 'ended', status: 'cancelled' });
  });
  const events = new SocketIoStreamEvents(redis, wire);
  return {
    live: new RedisLiveBuffer(redis, keys, 60),
    cancels,
    tellsReset: true,
    async eventsFor(stream) {
      const seen: Seen[] = [];
      seenByThread.set(stream.threadId, seen);
      const channel = wire.roomChannel(rooms.thread(stream.threadId));
      await (wire.kind === 'sharded' ? roomSubscriber.ssubscribe(channel) : roomSubscriber.subscribe(channel));
      return { events, seen };
    },
    async close() {
      await stopCancels();
      for (const c of [redis, cancelSubscriber, roomSubscriber]) await closeRedis(c);
    },
  };
}

async function directMode(): Promise<Mode> {
  const cancels = new CancelSignals();
  return {
    live: new MemoryLiveBuffer({ endedTtlMs: 60_000, onCancelRequested: (streamId) => cancels.abort(streamId, 'cancel') }),
    cancels,
    tellsReset: false,
    async eventsFor() {
      const seen: Seen[] = [];
      const parser = new SseParser();
      // Each attempt runs in a response of its own, which opens with `started`.
      let attempt = 0;
      const res = {
        writableEnded: false,
        destroyed: false,
        write(chunk: string) {
          for (const { event, data } of parser.push(chunk)) {
            const e = JSON.parse(data);
            if (event === 'started') seen.push({ type: 'started', attempt: ++attempt });
            else if (event === 'delta') seen.push({ type: 'delta', attempt, seq: e.seq, text: e.text });
            else seen.push({ type: 'ended', status: event, content: e.message?.content, code: e.error?.code });
          }
        },
      };
      return { events: new SseStreamEvents(res, {} as SendMessageResult), seen };
    },
    async close() {},
  };
}

/** The content a client following the resume rule shows after each frame, checking that frames are contiguous. */
function appliedSteps(seen: Seen[]): Array<{ attempt: number; seq: number; text: string }> {
  const steps: Array<{ attempt: number; seq: number; text: string }> = [];
  let held = { attempt: 0, seq: 0, text: '' };
  for (const e of seen) {
    if (e.type === 'reset' || (e.type === 'started' && e.attempt > held.attempt)) held = { attempt: e.attempt, seq: 0, text: '' };
    if (e.type !== 'delta') continue;
    expect({ attempt: e.attempt, seq: e.seq }).toEqual({ attempt: held.attempt, seq: held.seq + 1 });
    held = { attempt: e.attempt, seq: e.seq, text: held.text + e.text };
    steps.push(held);
  }
  return steps;
}

describe.each([
  ['background (Redis live buffer, socket.io events)', backgroundMode],
  ['direct (memory live buffer, server-sent events)', directMode],
])('a stream’s life in %s', (_name, makeMode) => {
  let testDb: TestDatabase;
  let db: Database;
  let mode: Mode;
  const logger = createLogger('test', 'silent');

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = createDatabase(testDb.url);
    mode = await makeMode();
  });

  afterAll(async () => {
    await mode.close();
    await db.close();
    await testDb.drop();
  });

  const seed = (content: string): Promise<Stream> => seedStream(db.prisma, content);

  /** Runs one attempt as a worker or a direct response would. */
  async function run(stream: Stream, seen: Seen[], events: StreamEvents, policy: RetryPolicy = { mayRetry: false }): Promise<GenerationOutcome> {
    const control = mode.cancels.register(stream.streamId);
    try {
      return await runGeneration(stream, control, {
        provider: createSimulatedProvider({ tokens: 10, tokensPerSecond: 40 }),
        records: new StreamRecords(db.sql),
        live: mode.live,
        events,
        frames: { frameMs: 5, maxChars: 64, checkpointMs: 50 },
        frameClock: new FrameClock(5),
        logger,
      }, policy);
    } finally {
      mode.cancels.release(stream.streamId, control);
      // Redis delivers published events asynchronously: wait until nothing more arrives.
      await eventsSettled(seen);
    }
  }

  /** Resolves once the client has received `n` frames. */
  async function framesReceived(seen: Seen[], n: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (seen.filter((e) => e.type === 'delta').length < n) {
      if (Date.now() > deadline) throw new Error(`fewer than ${n} frames arrived`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  async function eventsSettled(seen: Seen[]): Promise<void> {
    for (let quiet = 0, last = -1; quiet < 5; ) {
      await new Promise((r) => setTimeout(r, 20));
      quiet = seen.length === last ? quiet + 1 : 0;
      last = seen.length;
    }
  }

  const stored = (s: Stream) => db.prisma.message.findUniqueOrThrow({ where: { id: s.messageId } });

  it('streams every frame in order and ends once, with the text the frames carried', async () => {
    const stream = await seed('Tell me [sim tokens=60 rate=600]');
    const { events, seen } = await mode.eventsFor(stream);
    const outcome = await run(stream, seen, events);
    expect(outcome).toMatchObject({ kind: 'ended', status: 'completed', attempt: 1 });
    const steps = appliedSteps(seen);
    expect(steps.length).toBeGreaterThanOrEqual(2);
    const final = await stored(stream);
    // Each step shows a prefix of the answer; the last one is the stored answer itself.
    for (const step of steps) expect(final.content.startsWith(step.text)).toBe(true);
    expect(steps[steps.length - 1].text).toBe(final.content);
    expect(final.status).toBe('complete');
    expect(seen[0]).toEqual({ type: 'started', attempt: 1 });
    expect(seen.filter((e) => e.type === 'ended')).toEqual([{ type: 'ended', status: 'completed', content: final.content }]);
    expect(await mode.live.read(stream)).toMatchObject({ status: 'completed', attempt: 1, seq: steps.length, content: final.content });
  });

  it('a cancel mid-answer ends it cancelled, keeping exactly the text already sent', async () => {
    const stream = await seed('Long one [sim tokens=2000 rate=400]');
    const { events, seen } = await mode.eventsFor(stream);
    const running = run(stream, seen, events);
    await framesReceived(seen, 3);
    await mode.live.requestCancel(stream);
    const outcome = await running;
    expect(outcome).toMatchObject({ kind: 'ended', status: 'cancelled' });
    const steps = appliedSteps(seen);
    expect(steps.length).toBeGreaterThanOrEqual(3);
    const final = await stored(stream);
    expect(final.status).toBe('cancelled');
    expect(final.content).toBe(steps[steps.length - 1].text);
    expect(final.content.split(' ').length).toBeLessThan(2000);
    expect(seen.filter((e) => e.type === 'ended').map((e) => (e as { status: string }).status)).toEqual(['cancelled']);
  });

  it('a final failure keeps the partial answer and says why', async () => {
    const stream = await seed('Fragile [sim tokens=40 rate=800 fail=transient at=20 times=1]');
    const { events, seen } = await mode.eventsFor(stream);
    const outcome = await run(stream, seen, events, { mayRetry: false });
    expect(outcome).toMatchObject({ kind: 'ended', status: 'failed' });
    const steps = appliedSteps(seen);
    const final = await stored(stream);
    expect(final.status).toBe('failed');
    expect(final.content.split(' ').filter(Boolean)).toHaveLength(20);
    expect(steps[steps.length - 1].text).toBe(final.content);
    const ended = seen.filter((e) => e.type === 'ended');
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ status: 'failed', code: 'simulated_transient' });
    const row = await db.prisma.stream.findUniqueOrThrow({ where: { id: stream.streamId } });
    expect([row.status, row.errorCode]).toEqual(['failed', 'simulated_transient']);
  });

  it('a transient failure with attempts left ends nothing; the next attempt starts from empty content and completes', async () => {
    const stream = await seed('Flaky [sim tokens=30 rate=600 fail=transient at=10 times=1]');
    const { events, seen } = await mode.eventsFor(stream);
    const first = await run(stream, seen, events, { mayRetry: true });
    expect(first).toMatchObject({ kind: 'retry', attempt: 1 });
    expect(seen.some((e) => e.type === 'ended')).toBe(false);
    expect((await stored(stream)).status).toBe('streaming');
    const second = await run(stream, seen, events, { mayRetry: true });
    expect(second).toMatchObject({ kind: 'ended', status: 'completed', attempt: 2 });
    if (mode.tellsReset) expect(seen.filter((e) => e.type === 'reset')).toEqual([{ type: 'reset', attempt: 2 }]);
    const steps = appliedSteps(seen).filter((s) => s.attempt === 2);
    const final = await stored(stream);
    expect(steps[0].seq).toBe(1);
    expect(steps[steps.length - 1].text).toBe(final.content);
    expect(final.content.split(' ').filter(Boolean)).toHaveLength(30);
    expect(await mode.live.read(stream)).toMatchObject({ attempt: 2, status: 'completed', content: final.content });
  });

  it('a stream cancelled before its attempt starts ends at once, empty', async () => {
    const stream = await seed('Never mind [sim tokens=50 rate=100]');
    await mode.live.requestCancel(stream);
    const { events, seen } = await mode.eventsFor(stream);
    const outcome = await run(stream, seen, events);
    expect(outcome).toMatchObject({ kind: 'ended', status: 'cancelled', seq: 0 });
    expect(seen.filter((e) => e.type === 'delta')).toEqual([]);
    expect(await stored(stream)).toMatchObject({ status: 'cancelled', content: '' });
  });

  it('an ended stream is not generated again, and nothing more is told', async () => {
    const stream = await seed('Once [sim tokens=5 rate=1000]');
    const { events, seen } = await mode.eventsFor(stream);
    await run(stream, seen, events);
    const told = seen.length;
    expect(await run(stream, seen, events)).toEqual({ kind: 'not-started' });
    expect(seen).toHaveLength(told);
  });

  it('an attempt whose stream the lost-stream reaper ended meanwhile leaves that end as it is, and says so', async () => {
    const stream = await seed('Reaped [sim tokens=200 rate=400]');
    const { events, seen } = await mode.eventsFor(stream);
    const records = new StreamRecords(db.sql);
    const running = run(stream, seen, events);
    await framesReceived(seen, 2);
    const row = await records.get(stream.streamId);
    const reaped = await endWithLiveContent({ records, live: mode.live, events }, row!, { status: 'failed', error: { code: 'worker_lost', message: 'lost' } });
    expect(reaped?.stream.status).toBe('failed');
    const outcome = await running;
    expect(outcome).toMatchObject({ kind: 'ended', status: 'completed', attempt: 1, applied: false });
    const final = await stored(stream);
    expect({ status: final.status, content: final.content }).toEqual({ status: 'failed', content: reaped!.message.content });
    // The reaper's end is the only one told; the attempt's own end is not announced.
    const ends = seen.filter((e) => e.type === 'ended');
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({ status: 'failed', code: 'worker_lost' });
  });

  it('an attempt that another one superseded stops without ending the stream', async () => {
    const stream = await seed('Contended [sim tokens=2000 rate=400]');
    const { events, seen } = await mode.eventsFor(stream);
    const running = run(stream, seen, events, { mayRetry: true });
    await framesReceived(seen, 2);
    // Another worker took the stream over (its lock expired): it starts attempt 2.
    await mode.live.beginAttempt(stream);
    const outcome = await running;
    expect(outcome).toEqual({ kind: 'superseded', attempt: 1 });
    expect(seen.some((e) => e.type === 'ended')).toBe(false);
    expect((await db.prisma.stream.findUniqueOrThrow({ where: { id: stream.streamId } })).status).toBe('streaming');
    expect(await mode.live.read(stream)).toMatchObject({ attempt: 2, seq: 0, content: '' });
  });
});
