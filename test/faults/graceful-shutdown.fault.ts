import http from 'node:http';
import net from 'node:net';
import { simulatedAnswer } from '@bgs/server';
import { eventually, type HttpClient } from '../support/http';
import type { ManagedProcess } from '../support/processes';
import { RedisServer } from '../support/redis-server';
import { connectSocket, nextEvent, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';
import { attemptsOf, expectContiguous, resetsOf, seqRange } from '../support/follower-assertions';
import { ThreadFollower } from '../support/thread-follower';

const ENV = { FRAME_MS: '20', LOCK_DURATION_MS: '4000', STALLED_INTERVAL_MS: '1000', RATE_LIMIT_SENDS: '1000' };

/** SIGTERM, then how long the process took to exit and its exit code. */
async function terminate(process: ManagedProcess): Promise<{ code: number | null; ms: number }> {
  const sent = Date.now();
  process.child.kill('SIGTERM');
  const code = await process.exited;
  return { code, ms: Date.now() - sent };
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Whether a new TCP connection to the port is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/**
 * A POST whose headers the server has taken (it answered `100 Continue`) and whose body
 * is sent only when `finish` is called: a request in flight for as long as the test likes.
 */
function slowRequest(url: string, path: string, token: string, body: unknown) {
  const payload = Buffer.from(JSON.stringify(body));
  const req = http.request(`${url}${path}`, {
    method: 'POST',
    agent: false,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': payload.length, expect: '100-continue' },
  });
  const response = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req.once('response', (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.once('end', () => resolve({ status: res.statusCode as number, body: text ? JSON.parse(text) : null }));
      res.once('error', reject);
    });
    req.once('error', reject);
  });
  const taken = new Promise<void>((resolve) => req.once('continue', () => resolve()));
  req.flushHeaders();
  return { taken, response, finish: () => req.end(payload) };
}

describe('graceful shutdown: an API instance', () => {
  let redis: RedisServer;
  let system: TestSystem;
  let api: HttpClient & { token: string };
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    // API index 1 serves the helpers; each test stops an API of its own.
    system = await TestSystem.start({ apis: 2, workers: 1, redisUrl: redis.url, env: ENV });
    api = await system.client('grace-api-user', 1);
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await system?.stop();
    await redis?.close();
  });

  it('SIGTERM: stops accepting, lets the request in flight finish, disconnects sockets, exits 0', async () => {
    const victim = system.apis[0];
    const url = system.url(0);
    const socket = await connectSocket(url, api.token);
    sockets.push(socket);
    const threadId = (await api.post('/api/threads', { title: 'Attached' })).body.id as string;
    expect((await openThread(socket, threadId)).ok).toBe(true);
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    const inFlight = slowRequest(url, '/api/threads', api.token, { title: 'Sent before the SIGTERM' });
    await inFlight.taken;

    const exit = terminate(victim);
    await victim.waitForLog((l) => l.msg === 'shutting down', 5_000, 'shutting down');
    // The connection is closed (not a socket.io-level kick), so clients reconnect by themselves, elsewhere.
    expect(await disconnected).toBe('transport close');
    expect(await accepts(portOf(url))).toBe(false);
    expect(victim.running).toBe(true); // still waiting for the request in flight

    inFlight.finish();
    const answered = await inFlight.response;
    expect(answered.status).toBe(201);
    expect(answered.body.title).toBe('Sent before the SIGTERM');
    const { code, ms } = await exit;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(8_000);
    // The thread it created is there, read through the other instance.
    expect((await api.get(`/api/threads/${answered.body.id}`)).status).toBe(200);
  });

  it('SIGTERM with a request that never finishes: exits 0 once the grace period is over', async () => {
    const victim = await system.addApi({ SHUTDOWN_GRACE_MS: '1000' });
    const url = system.url(system.apis.indexOf(victim));
    const stuck = slowRequest(url, '/api/threads', api.token, { title: 'Never sent' });
    const cut = stuck.response.then(() => 'answered', (err: Error) => err.message);
    await stuck.taken;
    const { code, ms } = await terminate(victim);
    // Past the grace period the request is cut rather than holding the process (a stuck
    // client must not turn a deploy into a forced kill and exit code 1).
    expect(await cut).toBe('socket hang up');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(1_000 + 5_000);
  });
});

describe('graceful shutdown: a worker', () => {
  let redis: RedisServer;
  let system: TestSystem;
  let api: HttpClient & { token: string };
  let socket: TestSocket;

  beforeAll(async () => {
    redis = await RedisServer.start();
    system = await TestSystem.start({ apis: 1, workers: 0, redisUrl: redis.url, env: ENV });
    api = await system.client('grace-worker-user');
    socket = await connectSocket(system.url(), api.token);
  });
  afterAll(async () => {
    socket?.disconnect();
    await system?.stop();
    await redis?.close();
  });

  async function followedSend(title: string, content: string) {
    const threadId = (await api.post('/api/threads', { title })).body.id as string;
    const follower = new ThreadFollower(socket, threadId);
    follower.snapshot(await openThread(socket, threadId));
    const streamId = (await api.post(`/api/threads/${threadId}/messages`, { content })).body.stream.id as string;
    const completedEvents: string[] = [];
    socket.on('stream.completed', (e) => e.streamId === streamId && completedEvents.push(e.message.content));
    return { threadId, streamId, follower, completedEvents };
  }

  it('with a short grace period it hands its long generations back; another worker completes each once', async () => {
    const leaving = await system.addWorker({ SHUTDOWN_GRACE_MS: '500' });
    const streams = [];
    for (let i = 0; i < 3; i++) {
      // 200 tokens at 25/s: 8 s, far longer than the grace period.
      const content = `Long generation ${i} [sim tokens=200 rate=25]`;
      streams.push({ ...(await followedSend(`Long ${i}`, content)), expected: simulatedAnswer(content, 200).join('') });
    }
    for (const s of streams) await nextEvent(socket, 'stream.delta', (e) => e.streamId === s.streamId && e.seq >= 2);
    const rescuer = await system.addWorker();

    const { code, ms } = await terminate(leaving);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(500 + 5_000); // the generations had 7 s left
    expect(leaving.lines.filter((l) => l.msg === 'worker shutting down: job handed back to the queue').length).toBe(3);

    for (const s of streams) {
      await rescuer.waitForLog((l) => l.msg === 'generation ended' && l.streamId === s.streamId, 20_000, `${s.streamId} on the rescuer`);
      const state = (await api.get(`/api/streams/${s.streamId}`)).body;
      expect({ status: state.status, attempt: state.attempt, content: state.content }).toEqual({ status: 'completed', attempt: 2, content: s.expected });
      await s.follower.until(s.streamId, (f) => f.final !== undefined, 'stream.completed');
      expect(s.completedEvents).toEqual([s.expected]);
      expect(s.follower.content(s.streamId)).toBe(s.expected);
      // Step by step: attempt 1 frame by frame until the hand-back, the reset emptying the
      // content, then the rescuer's attempt 2 frame by frame from seq 1 to the final message.
      const shown = expectContiguous(s.follower, s.streamId, { expected: s.expected, fromFirstFrame: true, ended: 'completed' });
      expect(attemptsOf(shown)).toEqual([1, 2]);
      expect(resetsOf(shown)).toEqual([2]);
      const first = shown.steps.filter((step) => step.attempt === 1);
      const second = shown.steps.filter((step) => step.attempt === 2);
      expect(first.map((step) => `${step.kind}:${step.seq}`)).toEqual(seqRange(1, first.length).map((seq) => `frame:${seq}`));
      expect(first.length).toBeGreaterThanOrEqual(2);
      expect(second.map((step) => `${step.kind}:${step.seq}`)).toEqual(['reset:0', ...seqRange(1, second.length - 1).map((seq) => `frame:${seq}`)]);
      expect(shown.final).toEqual({ status: 'completed', content: s.expected });
      const messages = (await api.get(`/api/threads/${s.threadId}/messages`)).body.items as Array<{ role: string; status: string }>;
      expect(messages.map((m) => `${m.role}:${m.status}`)).toEqual(['user:complete', 'assistant:complete']);
    }
    await rescuer.stop();
  });

  it('with a generous grace period it finishes a short generation, takes no new job, then exits 0', async () => {
    const leaving = await system.addWorker({ SHUTDOWN_GRACE_MS: '20000' });
    const content = 'Short generation [sim tokens=50 rate=25]';
    const short = await followedSend('Short', content);
    await leaving.waitForLog((l) => l.msg === 'generation started' && l.streamId === short.streamId, 10_000, 'generation started');

    const exit = terminate(leaving);
    await leaving.waitForLog((l) => l.msg === 'shutting down', 5_000, 'shutting down');
    // Sent while it shuts down: it must not take it.
    const laterContent = 'Sent during the shutdown [sim tokens=20 rate=200]';
    const later = await followedSend('Later', laterContent);
    const { code } = await exit;
    expect(code).toBe(0);
    expect(leaving.lines.some((l) => l.msg === 'generation ended' && l.streamId === short.streamId && l.attempt === 1)).toBe(true);
    expect(leaving.lines.some((l) => l.streamId === later.streamId)).toBe(false);

    const state = (await api.get(`/api/streams/${short.streamId}`)).body;
    expect({ status: state.status, attempt: state.attempt, content: state.content }).toEqual({ status: 'completed', attempt: 1, content: simulatedAnswer(content, 50).join('') });
    await short.follower.until(short.streamId, (f) => f.final !== undefined, 'stream.completed');
    expect(short.completedEvents).toEqual([state.content]);
    // The leaving worker finished it in its one attempt: frame by frame from seq 1 to the final message.
    const shortShown = expectContiguous(short.follower, short.streamId, { expected: state.content, fromFirstFrame: true, ended: 'completed' });
    expect(shortShown.steps.map((s) => `${s.kind}:${s.attempt}:${s.seq}`)).toEqual(seqRange(1, shortShown.steps.length).map((seq) => `frame:1:${seq}`));
    expect(shortShown.final).toEqual({ status: 'completed', content: state.content });
    expect((await api.get(`/api/streams/${later.streamId}`)).body.status).toBe('queued');

    // The next worker takes it.
    await system.addWorker();
    const done = await eventually(async () => {
      const s = (await api.get(`/api/streams/${later.streamId}`)).body;
      return s.status === 'completed' ? s : undefined;
    }, 'the later stream');
    expect(done.content).toBe(simulatedAnswer(laterContent, 20).join(''));
    // Its follower, there since before it was queued, applied it frame by frame from seq 1.
    await later.follower.until(later.streamId, (f) => f.final !== undefined, 'stream.completed for the later stream');
    const laterShown = expectContiguous(later.follower, later.streamId, { expected: done.content, fromFirstFrame: true, ended: 'completed' });
    expect(laterShown.steps.map((s) => `${s.kind}:${s.attempt}:${s.seq}`)).toEqual(seqRange(1, laterShown.steps.length).map((seq) => `frame:1:${seq}`));
    expect(later.completedEvents).toEqual([done.content]);
  });
});
