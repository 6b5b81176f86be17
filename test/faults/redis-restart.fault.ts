import { simulatedAnswer } from '@bgs/server';
import { eventually, httpClient, type HttpAnswer, type HttpClient, streamEnded } from '../support/http';
import { RedisServer } from '../support/redis-server';
import { connectSocket, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';
import { expectContiguous, frameSteps } from '../support/follower-assertions';
import { ThreadFollower } from '../support/thread-follower';

const TOKENS = 100;
/** How long Redis stays down: longer than ioredis's capped reconnect backoff (2 s). */
const OUTAGE_MS = 3_000;
// Three running and three queued streams.
const ENV = { FRAME_MS: '20', WORKER_CONCURRENCY: '3', RATE_LIMIT_SENDS: '1000' };

function expectUnavailable(res: HttpAnswer, what: string) {
  expect({ what, status: res.status, code: res.body?.error?.code }).toEqual({ what, status: 503, code: 'unavailable' });
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
}

describe.each([
  // Locks outlive the outage: the running attempts carry on where they were.
  ['locks outlive the outage', { LOCK_DURATION_MS: '10000', STALLED_INTERVAL_MS: '5000' }],
  // Locks shorter than the outage: a job may be taken for stalled, and attempt fencing
  // still leaves one final message.
  ['locks shorter than the outage', { LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000' }],
])('fault: Redis crashed and restarted mid-run (AOF), %s', (name, locks) => {
  let redis: RedisServer;
  let system: TestSystem;
  let socket: TestSocket;

  beforeAll(async () => {
    redis = await RedisServer.start();
    system = await TestSystem.start({ apis: 1, workers: 1, redisUrl: redis.url, env: { ...ENV, ...locks } });
  });
  afterAll(async () => {
    socket?.disconnect();
    await system?.stop();
    await redis?.close();
  });

  it('queued and running streams survive; the API answers 503 meanwhile and recovers by itself', async () => {
    const api: HttpClient & { token: string } = await system.client('redis-fault-user');
    const threadIds: string[] = [];
    for (let i = 0; i < 6; i++) threadIds.push((await api.post('/api/threads', { title: `Redis ${i}` })).body.id as string);
    // A chat app looking at the first thread through the crash; as any chat app, it opens
    // the thread again whenever its socket reconnects.
    socket = await connectSocket(system.url(), api.token, { reconnection: true });
    const follower = new ThreadFollower(socket, threadIds[0]);
    follower.snapshot(await openThread(socket, threadIds[0]));
    let reconnects = 0;
    socket.io.on('reconnect', () => {
      reconnects++;
      openThread(socket, threadIds[0]).then((ack) => follower.snapshot(ack), () => undefined);
    });

    const streams: Array<{ threadId: string; streamId: string; content: string; expected: string }> = [];
    for (const [i, threadId] of threadIds.entries()) {
      // 100 tokens at 15/s: about 7 s each, so the three running ones are mid-stream at the
      // crash, and still streaming once the client is back (on a loaded machine that takes a while).
      const content = `Survive Redis ${i} [sim tokens=${TOKENS} rate=15]`;
      const sent = await api.post(`/api/threads/${threadId}/messages`, { content });
      expect(sent.status).toBe(202);
      streams.push({ threadId, streamId: sent.body.stream.id, content, expected: simulatedAnswer(content, TOKENS).join('') });
    }
    const watched = streams[0];
    const [worker] = system.workers;
    const hasStarted = (s: { streamId: string }) => worker.lines.some((l) => l.msg === 'generation started' && l.streamId === s.streamId);
    await eventually(async () => (streams.filter(hasStarted).length === 3 ? true : undefined), 'three streams running');

    const linesBefore = worker.lines.length;
    await redis.stop('SIGKILL');
    const down = Date.now();
    // Routes that need Redis answer 503 with Retry-After; routes that do not still work.
    const anon = httpClient(system.url());
    const ready = await anon.get('/readyz');
    expectUnavailable(ready, 'readyz');
    expect(ready.body.error.details.checks).toEqual({ postgres: 'ok', redis: 'unavailable' });
    expectUnavailable(await api.get(`/api/streams/${watched.streamId}`), 'stream read');
    expectUnavailable(await api.get(`/api/threads/${watched.threadId}/messages`), 'messages with a live one');
    const extraThread = (await api.post('/api/threads', { title: 'Sent during the outage' })).body.id as string;
    expectUnavailable(await api.post(`/api/threads/${extraThread}/messages`, { content: 'Lost?' }), 'send');
    expect((await api.get('/api/threads')).status).toBe(200);
    // The worker noticed too, before Redis comes back.
    await worker.waitForLog((l) => worker.lines.indexOf(l) >= linesBefore && /error/i.test(String(l.msg)), 10_000, 'a Redis error');
    // The fault lasts OUTAGE_MS, whatever the checks above took.
    await new Promise((r) => setTimeout(r, Math.max(0, down + OUTAGE_MS - Date.now())));

    await redis.restart();
    const recoveredIn = await eventually(async () => ((await anon.get('/readyz')).status === 200 ? Date.now() - down : undefined), 'readyz after restart', 20_000);

    for (const s of streams) {
      const state = await streamEnded(api, s.streamId, 45_000);
      expect({ status: state.status, content: state.content }).toEqual({ status: 'completed', content: s.expected });
      const messages = (await api.get(`/api/threads/${s.threadId}/messages`)).body.items as Array<{ role: string; status: string; content: string }>;
      expect(messages.map((m) => `${m.role}:${m.status}`)).toEqual(['user:complete', 'assistant:complete']);
      expect(messages[0].content).toBe(s.content);
    }
    // What the chat app shows: the final answer, whether its final event came through or
    // was published while this API's subscriber was reconnecting (then the API closed the
    // socket, and the snapshot after the reconnect carried it).
    await follower.untilShownFinal(watched.streamId, 20_000);
    expect(follower.ended(watched.streamId)).toBe('completed');
    expect(follower.content(watched.streamId)).toBe(watched.expected);
    expect(reconnects).toBeGreaterThanOrEqual(1);
    // Step by step through the crash: frames of an attempt exactly consecutive, the
    // snapshot after the reconnect taking up where they stopped without rolling back (or
    // starting the newer attempt), each step a prefix of the answer, and the content
    // assembled from the steps equal to the final message when its event came through.
    const shown = expectContiguous(follower, watched.streamId, { expected: watched.expected, ended: 'completed' });
    expect(shown.steps.at(-1)!.text).toBe(watched.expected);
    expect(frameSteps(shown).length).toBeGreaterThan(0);
    if (shown.final) expect(shown.final).toEqual({ status: 'completed', content: watched.expected });

    // The send refused during the outage left nothing behind, and sending works again.
    expect((await api.get(`/api/threads/${extraThread}/messages`)).body.items).toEqual([]);
    const content = `After the restart [sim tokens=20 rate=200]`;
    const again = await api.post(`/api/threads/${extraThread}/messages`, { content });
    expect(again.status).toBe(202);
    const after = await eventually(async () => {
      const r = (await api.get(`/api/streams/${again.body.stream.id}`)).body;
      return r.status === 'completed' ? r : undefined;
    }, 'a stream sent after the restart');
    expect(after.content).toBe(simulatedAnswer(content, 20).join(''));
    console.log(`redis-restart (${name}): 3 running + 3 queued streams, Redis SIGKILLed for ${OUTAGE_MS} ms; ready again ${recoveredIn} ms after the crash; all 6 completed; lost 0`);
  }, 150_000);
});
