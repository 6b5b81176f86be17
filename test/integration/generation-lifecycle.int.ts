import { simulatedAnswer } from '@bgs/server';
import { streamEnded } from '../support/http';
import { connectSocket, nextEvent, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';
import { attemptsOf, expectContiguous, frameSteps, resetsOf, seqRange } from '../support/follower-assertions';
import { ThreadFollower } from '../support/thread-follower';

/** Cancel, retries, failures and idempotent sends, as a chat app sees them. */
describe('generation lifecycle', () => {
  let system: TestSystem;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ env: { FRAME_MS: '20', GENERATION_BACKOFF_MS: '100', GENERATION_ATTEMPTS: '3' } });
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await system.stop();
  });

  async function setup(userId: string) {
    const api = await system.client(userId);
    const thread = (await api.post('/api/threads', { title: 'Lifecycle' })).body.id as string;
    const socket = await connectSocket(system.url(), api.token);
    sockets.push(socket);
    const follower = new ThreadFollower(socket, thread);
    follower.snapshot(await openThread(socket, thread));
    return { api, thread, socket, follower };
  }

  it('cancel stops the provider within a frame or two and keeps the partial text', async () => {
    const { api, thread, socket, follower } = await setup('cancel-user');
    const streamId = (await api.post(`/api/threads/${thread}/messages`, { content: 'Slow one [sim tokens=400 rate=50]' })).body.stream.id;
    await nextEvent(socket, 'stream.delta', (e) => e.streamId === streamId && e.seq >= 3);
    const cancelled = nextEvent(socket, 'stream.cancelled', (e) => e.streamId === streamId);
    const requestedAt = Date.now();
    expect((await api.post(`/api/streams/${streamId}/cancel`)).status).toBe(202);
    await cancelled;
    expect(Date.now() - requestedAt).toBeLessThan(1_000);
    const state = await streamEnded(api, streamId);
    expect(state.status).toBe('cancelled');
    expect(state.content.length).toBeGreaterThan(0);
    expect(simulatedAnswer('Slow one [sim tokens=400 rate=50]', 400).join('').startsWith(state.content)).toBe(true);
    expect(state.content).toBe(follower.content(streamId));
    // Frame by frame from seq 1, each a prefix of the answer, ending on the kept partial text.
    const shown = expectContiguous(follower, streamId, { expected: simulatedAnswer('Slow one [sim tokens=400 rate=50]', 400).join(''), fromFirstFrame: true, ended: 'cancelled' });
    expect(shown.steps.map((s) => `${s.kind}:${s.attempt}:${s.seq}`)).toEqual(seqRange(1, shown.steps.length).map((seq) => `frame:1:${seq}`));
    expect(shown.steps.length).toBeGreaterThanOrEqual(3);
    expect(shown.steps.at(-1)!.text).toBe(state.content);
    expect(shown.final).toEqual({ status: 'cancelled' });
    const [, assistant] = (await api.get(`/api/threads/${thread}/messages`)).body.items;
    expect(assistant).toEqual(expect.objectContaining({ status: 'cancelled', content: state.content }));
    // Cancel is idempotent, and the thread takes a new message again.
    expect((await api.post(`/api/streams/${streamId}/cancel`)).status).toBe(202);
    expect((await api.post(`/api/threads/${thread}/messages`, { content: 'next [sim tokens=3 rate=100]' })).status).toBe(202);
  });

  it('cancelling a hung generation ends it (no frame needed to notice)', async () => {
    const { api, thread, follower } = await setup('hang-user');
    const content = 'Hang [sim rate=500 hang at=5]';
    const produced = simulatedAnswer(content, 5).join('');
    const streamId = (await api.post(`/api/threads/${thread}/messages`, { content })).body.stream.id;
    // Everything the provider will ever produce has been shown; from here it hangs.
    await follower.until(streamId, (f) => f.state.content === produced, 'the 5 tokens before the hang');
    const cancelled = follower.until(streamId, (f) => f.final !== undefined, 'the final event');
    await api.post(`/api/streams/${streamId}/cancel`);
    const state = await streamEnded(api, streamId);
    expect(state.status).toBe('cancelled');
    expect(state.content).toBe(produced);
    // What was shown came frame by frame from seq 1 and stopped at the hang.
    await cancelled;
    const shown = expectContiguous(follower, streamId, { expected: produced, fromFirstFrame: true, ended: 'cancelled' });
    expect(frameSteps(shown).map((s) => s.seq)).toEqual(seqRange(1, shown.steps.length));
    expect(shown.steps.at(-1)!.text).toBe(produced);
  });

  it('a transient provider error is retried as a new attempt from empty content, ending in one final message', async () => {
    const { api, thread, socket, follower } = await setup('retry-user');
    const content = 'Flaky [sim tokens=30 rate=300 fail=transient at=10 times=2]';
    const streamId = (await api.post(`/api/threads/${thread}/messages`, { content })).body.stream.id;
    const resets: number[] = [];
    socket.on('stream.reset', (e) => e.streamId === streamId && resets.push(e.attempt));
    const completed = await nextEvent(socket, 'stream.completed', (e) => e.streamId === streamId);
    expect(resets).toEqual([2, 3]);
    const expected = simulatedAnswer(content, 30).join('');
    expect(completed.message.content).toBe(expected);
    expect(follower.content(streamId)).toBe(expected);
    // Step by step: attempt 1's frames, a reset emptying the content, attempt 2's frames,
    // another reset, then attempt 3 frame by frame from seq 1 up to the final message.
    const shown = expectContiguous(follower, streamId, { expected, fromFirstFrame: true, ended: 'completed' });
    expect(attemptsOf(shown)).toEqual([1, 2, 3]);
    expect(resetsOf(shown)).toEqual([2, 3]);
    for (const attempt of [1, 2, 3]) {
      const steps = shown.steps.filter((s) => s.attempt === attempt);
      const frames = steps.filter((s) => s.kind === 'frame');
      expect(frames.length).toBeGreaterThan(0);
      expect(steps.map((s) => `${s.kind}:${s.seq}`)).toEqual([...(attempt > 1 ? ['reset:0'] : []), ...seqRange(1, frames.length).map((seq) => `frame:${seq}`)]);
    }
    expect(shown.steps.filter((s) => s.attempt === 3).at(-1)!.text).toBe(expected);
    expect(shown.final).toEqual({ status: 'completed', content: expected });
    const state = (await api.get(`/api/streams/${streamId}`)).body;
    expect(state).toEqual(expect.objectContaining({ status: 'completed', attempt: 3 }));
    const assistants = (await api.get(`/api/threads/${thread}/messages`)).body.items.filter((m: { role: string }) => m.role === 'assistant');
    expect(assistants).toHaveLength(1);
  });

  it('an unrecoverable provider error fails at once, with a reason a user can read', async () => {
    const { api, thread, socket } = await setup('fail-user');
    const streamId = (await api.post(`/api/threads/${thread}/messages`, { content: 'Broken [sim fail=unrecoverable]' })).body.stream.id;
    const failed = await nextEvent(socket, 'stream.failed', (e) => e.streamId === streamId);
    expect(failed.error.code).toBe('simulated_unrecoverable');
    expect(failed.error.message).not.toMatch(/at .*\.js|Error:/);
    const state = (await api.get(`/api/streams/${streamId}`)).body;
    expect(state).toEqual(expect.objectContaining({ status: 'failed', attempt: 1, error: failed.error }));
    expect((await api.get(`/api/threads/${thread}`)).body.activeStreamId).toBeNull();
  });

  it('retries that run out end the stream as failed', async () => {
    const { api, thread, socket, follower } = await setup('exhaust-user');
    const content = 'Always flaky [sim fail=transient at=2 times=9]';
    const streamId = (await api.post(`/api/threads/${thread}/messages`, { content })).body.stream.id;
    const failed = await nextEvent(socket, 'stream.failed', (e) => e.streamId === streamId);
    expect(failed.error.code).toBe('simulated_transient');
    expect((await api.get(`/api/streams/${streamId}`)).body.attempt).toBe(3);
    // The client saw three attempts, each started from empty content and applied frame by
    // frame up to the same two tokens.
    const shown = expectContiguous(follower, streamId, { fromFirstFrame: true, ended: 'failed' });
    expect(attemptsOf(shown)).toEqual([1, 2, 3]);
    expect(resetsOf(shown)).toEqual([2, 3]);
    const lastOfEach = [1, 2, 3].map((attempt) => shown.steps.filter((s) => s.attempt === attempt).at(-1)!.text);
    expect(lastOfEach[0].length).toBeGreaterThan(0);
    expect(lastOfEach).toEqual([lastOfEach[0], lastOfEach[0], lastOfEach[0]]);
    expect(shown.final).toEqual({ status: 'failed', error: failed.error });
  });

  it('the same Idempotency-Key returns the first answer and enqueues nothing', async () => {
    const { api, thread } = await setup('idem-user');
    const body = { content: 'Once only [sim tokens=5 rate=200]' };
    const headers = { 'Idempotency-Key': 'send-1' };
    const [a, b] = await Promise.all([api.post(`/api/threads/${thread}/messages`, body, headers), api.post(`/api/threads/${thread}/messages`, body, headers)]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.body.stream.id).toBe(a.body.stream.id);
    expect(b.body.userMessage.id).toBe(a.body.userMessage.id);
    await streamEnded(api, a.body.stream.id);
    const again = await api.post(`/api/threads/${thread}/messages`, body, headers);
    expect(again.status).toBe(202);
    expect(again.body.stream).toEqual(expect.objectContaining({ id: a.body.stream.id, status: 'completed' }));
    const messages = (await api.get(`/api/threads/${thread}/messages`)).body.items;
    expect(messages).toHaveLength(2);
  });

  it('deleting a thread cancels its running stream', async () => {
    const { api, thread, socket } = await setup('delete-user');
    const streamId = (await api.post(`/api/threads/${thread}/messages`, { content: 'Delete me [sim tokens=500 rate=50]' })).body.stream.id;
    await nextEvent(socket, 'stream.delta', (e) => e.streamId === streamId);
    const cancelled = nextEvent(socket, 'stream.cancelled', (e) => e.streamId === streamId);
    expect((await api.delete(`/api/threads/${thread}`)).status).toBe(204);
    await cancelled;
    expect((await api.get(`/api/streams/${streamId}`)).status).toBe(404);
  });
});
