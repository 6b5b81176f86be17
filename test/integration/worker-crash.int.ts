import { simulatedAnswer } from '@bgs/server';
import { streamEnded } from '../support/http';
import { connectSocket, nextEvent, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';
import { attemptsOf, expectContiguous, resetsOf, seqRange } from '../support/follower-assertions';
import { ThreadFollower } from '../support/thread-follower';

// Short locks so a dead worker's job is recovered in about two seconds; 10 jobs per
// worker so 16 concurrent streams must spread over two.
const FAST_RECOVERY = { FRAME_MS: '20', LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000', WORKER_CONCURRENCY: '10' };

describe('several workers, and a worker that dies', () => {
  let system: TestSystem;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ workers: 0, env: FAST_RECOVERY });
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await system.stop();
  });

  it('a worker killed mid-stream: another takes the job over, the client sees a reset, one final message', async () => {
    const victim = await system.addWorker();
    const api = await system.client('crash-user');
    const thread = (await api.post('/api/threads', { title: 'Crash' })).body.id as string;
    const socket = await connectSocket(system.url(), api.token);
    sockets.push(socket);
    const follower = new ThreadFollower(socket, thread);
    follower.snapshot(await openThread(socket, thread));

    const content = 'Survive a crash [sim tokens=120 rate=60]';
    const streamId = (await api.post(`/api/threads/${thread}/messages`, { content })).body.stream.id as string;
    await nextEvent(socket, 'stream.delta', (e) => e.streamId === streamId && e.seq >= 5);
    const rescuer = await system.addWorker();
    await victim.kill();

    const reset = await nextEvent(socket, 'stream.reset', (e) => e.streamId === streamId, 20_000);
    expect(reset.attempt).toBe(2);
    const completed = await nextEvent(socket, 'stream.completed', (e) => e.streamId === streamId, 20_000);
    const expected = simulatedAnswer(content, 120).join('');
    expect(completed.message.content).toBe(expected);
    expect(follower.content(streamId)).toBe(expected);
    // Step by step: attempt 1 frame by frame (at least to seq 5) until the crash, the reset
    // emptying the content, then attempt 2 frame by frame from seq 1 to the final message.
    const shown = expectContiguous(follower, streamId, { expected, fromFirstFrame: true, ended: 'completed' });
    expect(attemptsOf(shown)).toEqual([1, 2]);
    expect(resetsOf(shown)).toEqual([2]);
    const first = shown.steps.filter((s) => s.attempt === 1);
    const second = shown.steps.filter((s) => s.attempt === 2);
    expect(first.map((s) => `${s.kind}:${s.seq}`)).toEqual(seqRange(1, first.length).map((seq) => `frame:${seq}`));
    expect(first.length).toBeGreaterThanOrEqual(5);
    expect(second.map((s) => `${s.kind}:${s.seq}`)).toEqual(['reset:0', ...seqRange(1, second.length - 1).map((seq) => `frame:${seq}`)]);
    expect(second.at(-1)!.text).toBe(expected);
    expect(shown.final).toEqual({ status: 'completed', content: expected });
    expect(shown.duplicates).toBe(0);
    await rescuer.waitForLog((l) => l.msg === 'generation ended' && l.streamId === streamId && l.attempt === 2);

    const messages = (await api.get(`/api/threads/${thread}/messages`)).body.items;
    expect(messages.map((m: { role: string; status: string }) => `${m.role}:${m.status}`)).toEqual(['user:complete', 'assistant:complete']);
    expect((await api.get(`/api/streams/${streamId}`)).body).toEqual(expect.objectContaining({ status: 'completed', attempt: 2, content: expected }));
  });

  it('two workers share the streams, and every stream completes once', async () => {
    while (system.workers.filter((w) => w.running).length < 2) await system.addWorker();
    const live = system.workers.filter((w) => w.running);
    const api = await system.client('busy-user');
    const threads: string[] = [];
    for (let i = 0; i < 16; i++) threads.push((await api.post('/api/threads', { title: `T${i}` })).body.id);
    // All at once, each lasting 2 s: 16 running streams need more than one worker's 10 slots.
    const streams = await Promise.all(
      threads.map(async (thread, i) => {
        const content = `Stream ${i} [sim tokens=40 rate=20]`;
        return { streamId: (await api.post(`/api/threads/${thread}/messages`, { content })).body.stream.id as string, content };
      }),
    );
    for (const { streamId, content } of streams) {
      const state = await streamEnded(api, streamId);
      expect(state.status).toBe('completed');
      expect(state.content).toBe(simulatedAnswer(content, 40).join(''));
    }
    const ranBy = live.map((w) => w.lines.filter((l) => l.msg === 'generation ended' && streams.some((s) => s.streamId === l.streamId)).length);
    expect(ranBy.reduce((a, b) => a + b, 0)).toBe(16);
    expect(ranBy.map((n) => n > 0)).toEqual(live.map(() => true));
  });
});
