import { Redis } from 'ioredis';
import { UnrecoverableError, Worker } from 'bullmq';
import { GENERATION_QUEUE, type Notification } from '@bgs/shared';
import { simulatedAnswer } from '@bgs/server';
import { eventually, type HttpClient } from '../support/http';
import type { ManagedProcess } from '../support/processes';
import { RedisServer } from '../support/redis-server';
import { connectSocket, nextEvent, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';

// The sweep checks streams active for twice the lock duration (8 s here), every 500 ms. The
// lock is not shorter: on a busy machine a 1 s lock lapses under a live worker.
// Completed jobs leave Redis at once, so a test can see that a re-enqueued job does too.
const ENV = {
  FRAME_MS: '20', LOCK_DURATION_MS: '4000', STALLED_INTERVAL_MS: '1000', SWEEP_INTERVAL_MS: '500', RATE_LIMIT_SENDS: '1000',
  GENERATION_ATTEMPTS: '3', GENERATION_BACKOFF_MS: '700', COMPLETED_JOB_RETENTION_S: '0',
};

describe('fault: a stream whose job vanished from Redis behind the system’s back', () => {
  let redis: RedisServer;
  let raw: Redis;
  let system: TestSystem;
  let api: HttpClient & { token: string };
  let inbox: TestSocket;
  let listener: ManagedProcess;
  /** BullMQ's keys of the generation queue. */
  let bull: (suffix: string) => string;

  beforeAll(async () => {
    redis = await RedisServer.start();
    raw = new Redis(redis.url);
    // No generator at first: only the completion listener and its sweep.
    system = await TestSystem.start({ apis: 1, workers: 0, redisUrl: redis.url, env: ENV });
    listener = await system.addWorker({ WORKER_ROLE: 'listener' });
    bull = (suffix) => `{${system.prefix}}:${GENERATION_QUEUE}:${suffix}`;
    api = await system.client('sweep-user');
    inbox = await connectSocket(system.url(), api.token);
  });
  afterAll(async () => {
    inbox?.disconnect();
    await system?.stop();
    raw?.disconnect();
    await redis?.close();
  });

  async function send(title: string, content: string) {
    const threadId = (await api.post('/api/threads', { title })).body.id as string;
    const sent = await api.post(`/api/threads/${threadId}/messages`, { content });
    expect(sent.status).toBe(202);
    return { threadId, streamId: sent.body.stream.id as string };
  }

  async function ended(streamId: string, timeoutMs = 20_000) {
    return eventually(async () => {
      const s = (await api.get(`/api/streams/${streamId}`)).body;
      return ['completed', 'failed', 'cancelled'].includes(s.status) ? s : undefined;
    }, `stream ${streamId} to end`, timeoutMs);
  }

  async function assistantMessages(threadId: string) {
    const items = (await api.get(`/api/threads/${threadId}/messages`)).body.items as Array<{ role: string; status: string; content: string }>;
    return items.filter((m) => m.role === 'assistant');
  }

  it('a queued stream whose job was deleted is enqueued again, and completes once', async () => {
    const content = 'Queued then lost [sim tokens=30 rate=200]';
    const { threadId, streamId } = await send('Lost while queued', content);
    // Redis loses the waiting job (data loss, a careless FLUSH of one key…).
    expect(await raw.lrem(bull('wait'), 0, streamId)).toBe(1);
    expect(await raw.del(bull(streamId))).toBe(1);

    await listener.waitForLog((l) => l.msg === 'stream had no job; enqueued it again' && l.streamId === streamId, 25_000, 're-enqueue');
    await system.addWorker({ WORKER_ROLE: 'generator' });
    const state = await ended(streamId);
    expect({ status: state.status, content: state.content }).toEqual({ status: 'completed', content: simulatedAnswer(content, 30).join('') });
    expect((await assistantMessages(threadId)).map((m) => m.status)).toEqual(['complete']);
  });

  it('a running stream whose worker died and whose job was deleted is enqueued again and completes on another worker', async () => {
    const [generator] = system.workers.filter((w) => w.running && w !== listener);
    const content = 'Running then lost [sim tokens=120 rate=40]';
    const { threadId, streamId } = await send('Lost while running', content);
    await generator.waitForLog((l) => l.msg === 'generation started' && l.streamId === streamId, 10_000, 'generation started');
    await generator.kill();
    // The dead worker's job goes too, so no stalled-job check can ever find it.
    expect(await raw.lrem(bull('active'), 0, streamId)).toBe(1);
    await raw.del(bull(streamId), bull(`${streamId}:lock`));
    expect(await raw.exists(bull(streamId))).toBe(0);

    const rescuer = await system.addWorker({ WORKER_ROLE: 'generator' });
    await listener.waitForLog((l) => l.msg === 'stream had no job; enqueued it again' && l.streamId === streamId, 25_000, 're-enqueue');
    const state = await ended(streamId);
    expect({ status: state.status, content: state.content }).toEqual({ status: 'completed', content: simulatedAnswer(content, 120).join('') });
    expect(state.attempt).toBeGreaterThanOrEqual(2);
    await rescuer.waitForLog((l) => l.msg === 'generation ended' && l.streamId === streamId, 5_000, 'generation ended on the rescuer');
    expect((await assistantMessages(threadId)).map((m) => m.status)).toEqual(['complete']);
  });

  it('a re-enqueued stream gets the same job options as a send: retried with backoff, and its job removed once completed', async () => {
    await Promise.all(system.workers.filter((w) => w.running && w !== listener).map((w) => w.stop()));
    const content = 'Lost, then flaky [sim tokens=40 rate=200 fail=transient at=5 times=1]';
    const { threadId, streamId } = await send('Lost and flaky', content);
    expect(await raw.lrem(bull('wait'), 0, streamId)).toBe(1);
    expect(await raw.del(bull(streamId))).toBe(1);

    await listener.waitForLog((l) => l.msg === 'stream had no job; enqueued it again' && l.streamId === streamId, 25_000, 're-enqueue');
    const opts = JSON.parse((await raw.hget(bull(streamId), 'opts')) ?? '{}');
    expect({ attempts: opts.attempts, backoff: opts.backoff, removeOnComplete: opts.removeOnComplete }).toEqual({
      attempts: 3, backoff: { type: 'exponential', delay: 700 }, removeOnComplete: true,
    });

    const notified = nextEvent(inbox, 'notification.created', (n: Notification) => n.streamId === streamId, 30_000);
    const generator = await system.addWorker({ WORKER_ROLE: 'generator' });
    const failed = await generator.waitForLog((l) => l.msg === 'attempt failed; will retry' && l.streamId === streamId, 15_000, 'first attempt fails');
    const retried = await generator.waitForLog((l) => l.msg === 'generation started' && l.streamId === streamId && l.attempt === 2, 15_000, 'second attempt');
    // BullMQ waited out the backoff before the second attempt.
    expect(Date.parse(String(retried.time)) - Date.parse(String(failed.time))).toBeGreaterThanOrEqual(600);
    const state = await ended(streamId);
    expect({ status: state.status, attempt: state.attempt, content: state.content }).toEqual({
      status: 'completed', attempt: 2, content: simulatedAnswer(content, 40).join(''),
    });
    expect((await assistantMessages(threadId)).map((m) => m.status)).toEqual(['complete']);
    // Nobody has the thread open: the completion is notified, once the job is over.
    expect((await notified).type).toBe('ai.message.received');
    await eventually(async () => ((await raw.exists(bull(streamId))) === 0 ? true : undefined), 'the completed job to leave Redis', 5_000);
  });

  it('a stream whose job failed outside the system, its events lost, is ended by the sweep with a readable reason', async () => {
    // Nothing runs generations or follows events while a rogue consumer fails the job.
    await Promise.all(system.workers.map((w) => w.stop()));
    const { threadId, streamId } = await send('Failed behind our back', 'Taken by a rogue consumer');
    const rogue = new Worker(GENERATION_QUEUE, null, { connection: { url: redis.url }, prefix: `{${system.prefix}}` });
    try {
      const job = await rogue.getNextJob('rogue-token');
      expect(job?.id).toBe(streamId);
      // Unrecoverable, so BullMQ fails it for good instead of scheduling a retry.
      await job!.moveToFailed(new UnrecoverableError('taken by a rogue consumer'), 'rogue-token');
    } finally {
      await rogue.close();
    }
    await raw.del(bull('events'));
    expect((await api.get(`/api/streams/${streamId}`)).body.status).toBe('queued');

    const notified = nextEvent(inbox, 'notification.created', (n: Notification) => n.streamId === streamId, 20_000);
    listener = await system.addWorker({ WORKER_ROLE: 'listener' });
    const state = await ended(streamId);
    expect(state.status).toBe('failed');
    expect(state.error).toEqual({ code: 'worker_lost', message: expect.stringMatching(/interrupted.*try again/i) });
    const [message] = await assistantMessages(threadId);
    expect(message.status).toBe('failed');
    const notice = await notified;
    expect(notice.type).toBe('system.warning');
    expect(notice.body).toMatch(/could not be completed/);
  });
});
