import { io } from 'socket.io-client';
import type { Notification } from '@bgs/shared';
import { simulatedAnswer } from '@bgs/server';
import type { ManagedProcess } from '../support/processes';
import { closeThread, connectSocket, nextEvent, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';
import { expectContiguous, seqRange, stepView } from '../support/follower-assertions';
import { ThreadFollower } from '../support/thread-follower';

/**
 * docs/protocol.md#overview (scale-out): two API instances, two generator workers and one listener-only
 * worker behind one Redis and one Postgres. Which worker runs a stream is forced by
 * which generators are up, and read back from the workers' own logs.
 */
describe('scale-out: 2 APIs, 2 generator workers, 1 listener', () => {
  let system: TestSystem;
  let listener: ManagedProcess;
  let worker1: ManagedProcess | null = null;
  let worker2: ManagedProcess;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ apis: 2, workers: 0, env: { FRAME_MS: '20' } });
    // Only worker 2 generates for now; notifications are decided by the listener alone.
    [listener, worker2] = await Promise.all([system.addWorker({ WORKER_ROLE: 'listener' }), system.addWorker({ WORKER_ROLE: 'generator' })]);
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await system?.stop();
  });

  /** A socket on API instance `api` (0-based), websocket only. */
  async function socketOn(api: number, token: string): Promise<TestSocket> {
    const s = await connectSocket(system.url(api), token);
    sockets.push(s);
    return s;
  }

  /** A socket as a browser opens it: long-polling first, then the websocket upgrade. */
  async function browserSocketOn(api: number, token: string): Promise<TestSocket> {
    const s: TestSocket = io(system.url(api), { auth: { token }, reconnection: false, forceNew: true });
    sockets.push(s);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('connect_error', reject);
    });
    return s;
  }

  const ranOn = (worker: ManagedProcess, streamId: string) =>
    worker.waitForLog((l) => l.msg === 'generation started' && l.streamId === streamId, 15_000, `generation started for ${streamId}`);
  const startedAnywhere = (w: ManagedProcess | null, streamId: string) => Boolean(w?.lines.some((l) => l.msg === 'generation started' && l.streamId === streamId));

  it('a socket on API 1 follows, without gap, a stream sent through API 2 and run by worker 2', async () => {
    const viaApi2 = await system.client('scale-alice', 1);
    const thread = (await viaApi2.post('/api/threads', { title: 'Across instances' })).body.id as string;
    const socket = await browserSocketOn(0, viaApi2.token);
    const follower = new ThreadFollower(socket, thread);
    follower.snapshot(await openThread(socket, thread));

    const content = 'Scale me out [sim tokens=80 rate=200]';
    const sent = await viaApi2.post(`/api/threads/${thread}/messages`, { content });
    expect(sent.status).toBe(202);
    const streamId = sent.body.stream.id as string;
    const completed = await nextEvent(socket, 'stream.completed', (e) => e.streamId === streamId);

    await ranOn(worker2, streamId);
    expect(startedAnywhere(listener, streamId)).toBe(false);
    const expected = simulatedAnswer(content, 80).join('');
    expect(completed.message.content).toBe(expected);
    expect(follower.content(streamId)).toBe(expected);
    // Every frame applied once, from seq 1, each extending the text by that frame, and the
    // text the frames assembled is the final message.
    const frames = expectContiguous(follower, streamId, { expected, fromFirstFrame: true, ended: 'completed' });
    expect(frames.duplicates).toBe(0);
    expect(frames.steps.length).toBeGreaterThan(1);
    expect(frames.steps.map((s) => `${s.kind}:${s.attempt}:${s.seq}`)).toEqual(seqRange(1, frames.steps.length).map((seq) => `frame:1:${seq}`));
    expect(frames.final).toEqual({ status: 'completed', content: expected });
  });

  it("the listener-only worker's notification reaches the user's socket on API 1", async () => {
    const viaApi2 = await system.client('scale-bob', 1);
    const thread = (await viaApi2.post('/api/threads', { title: 'Notify across' })).body.id as string;
    const socket = await socketOn(0, viaApi2.token);
    // Looking at the thread on API 1 for a while, then leaving it: the answer completes unseen.
    expect((await openThread(socket, thread)).ok).toBe(true);
    const streamId = (await viaApi2.post(`/api/threads/${thread}/messages`, { content: 'Tell me later [sim tokens=60 rate=150]' })).body.stream.id as string;
    await nextEvent(socket, 'stream.delta', (e) => e.streamId === streamId && e.seq >= 2);
    expect((await closeThread(socket, thread)).ok).toBe(true);

    const notification: Notification = await nextEvent(socket, 'notification.created', (n) => n.streamId === streamId);
    expect(notification).toMatchObject({ type: 'ai.message.received', threadId: thread, streamId, readAt: null });
    const decided = await listener.waitForLog((l) => l.msg === 'notification decided' && l.streamId === streamId, 5_000, 'notification decided');
    expect(decided).toMatchObject({ decision: 'ai.message.received', threadOpen: false });
    await ranOn(worker2, streamId);
    // Generators do not decide: the one notification came from the listener.
    expect(worker2.lines.some((l) => l.msg === 'notification decided')).toBe(false);
    const inbox = await viaApi2.get('/api/notifications');
    expect(inbox.body.items.filter((n: Notification) => n.streamId === streamId)).toHaveLength(1);
  });

  it('when worker 2 leaves, worker 1 runs the next stream, and sockets on both APIs see all of it', async () => {
    worker1 = await system.addWorker({ WORKER_ROLE: 'generator' });
    await worker2.stop();

    const viaApi1 = await system.client('scale-carol', 0);
    const thread = (await viaApi1.post('/api/threads', { title: 'Other worker' })).body.id as string;
    const tabs = [await socketOn(0, viaApi1.token), await socketOn(1, viaApi1.token)];
    const followers = tabs.map((t) => new ThreadFollower(t, thread));
    for (const [i, tab] of tabs.entries()) followers[i].snapshot(await openThread(tab, thread));

    const content = 'Second worker please [sim tokens=50 rate=200]';
    const streamId = (await viaApi1.post(`/api/threads/${thread}/messages`, { content })).body.stream.id as string;
    await Promise.all(tabs.map((t) => nextEvent(t, 'stream.completed', (e) => e.streamId === streamId)));

    await ranOn(worker1, streamId);
    expect(startedAnywhere(worker2, streamId)).toBe(false);
    const expected = simulatedAnswer(content, 50).join('');
    for (const f of followers) expect(f.content(streamId)).toBe(expected);
    // Each socket, whichever API it is on, applied every frame once from seq 1 and assembled the final message.
    const shown = followers.map((f) => expectContiguous(f, streamId, { expected, fromFirstFrame: true, ended: 'completed' }));
    for (const f of shown) {
      expect(f.steps.map((s) => `${s.kind}:${s.attempt}:${s.seq}`)).toEqual(seqRange(1, f.steps.length).map((seq) => `frame:1:${seq}`));
      expect(f.final).toEqual({ status: 'completed', content: expected });
    }
    expect(shown[1].steps.map(stepView)).toEqual(shown[0].steps.map(stepView));
  });
});
