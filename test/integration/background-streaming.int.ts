import { simulatedAnswer } from '@bgs/server';
import { streamEnded } from '../support/http';
import { closeThread, connectSocket, nextEvent, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';
import { ThreadFollower } from '../support/thread-follower';

/** Seed §2.1: a generation keeps running across thread switches and resumes live. */
describe('background streaming across thread switches', () => {
  let system: TestSystem;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ env: { FRAME_MS: '20' } });
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await system.stop();
  });

  async function socketFor(token: string) {
    const s = await connectSocket(system.url(), token);
    sockets.push(s);
    return s;
  }

  async function newThread(api: Awaited<ReturnType<TestSystem['client']>>, title = 'Thread') {
    const res = await api.post('/api/threads', { title });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  it('switching away mid-stream and back continues live, equal to what a client that never left saw', async () => {
    const api = await system.client('alice');
    const [threadA, threadB] = [await newThread(api, 'A'), await newThread(api, 'B')];
    const stayer = await socketFor(api.token);
    const switcher = await socketFor(api.token);
    const stayed = new ThreadFollower(stayer, threadA);
    stayed.snapshot(await openThread(stayer, threadA));
    let followed = new ThreadFollower(switcher, threadA);
    followed.snapshot(await openThread(switcher, threadA));

    // Long enough (2 s) that the switcher is back well before the end, even on a busy machine.
    const content = 'Plan a trip [sim tokens=300 rate=150]';
    const sent = await api.post(`/api/threads/${threadA}/messages`, { content });
    expect(sent.status).toBe(202);
    const streamId = sent.body.stream.id as string;

    // Leave after a few frames, look at another thread while frames keep coming.
    await nextEvent(switcher, 'stream.delta', (e) => e.streamId === streamId && e.seq >= 3);
    followed.detach();
    expect((await closeThread(switcher, threadA)).ok).toBe(true);
    expect((await openThread(switcher, threadB)).ok).toBe(true);
    const seqWhenLeft = followed.streams.get(streamId)?.state.seq ?? 0;
    await nextEvent(stayer, 'stream.delta', (e) => e.streamId === streamId && e.seq >= seqWhenLeft + 5);

    // Come back before the end: snapshot, then the live tail.
    await closeThread(switcher, threadB);
    followed = new ThreadFollower(switcher, threadA);
    const ack = await openThread(switcher, threadA);
    followed.snapshot(ack);
    expect(ack.ok && ack.streams[0].status).toBe('streaming');
    const completedForSwitcher = nextEvent(switcher, 'stream.completed', (e) => e.streamId === streamId);
    const completed = await nextEvent(stayer, 'stream.completed', (e) => e.streamId === streamId);
    await completedForSwitcher;

    const expected = simulatedAnswer(content, 300).join('');
    expect(completed.message.content).toBe(expected);
    expect(stayed.content(streamId)).toBe(expected);
    expect(followed.content(streamId)).toBe(expected);
    // The client that never left saw every frame exactly once, in order.
    const frames = stayed.streams.get(streamId)!;
    expect(frames.duplicates).toBe(0);
    expect(frames.waiting).toEqual([]);
    expect(frames.applied.map((f) => f.seq)).toEqual(Array.from({ length: frames.applied.length }, (_, i) => i + 1));
    // The client that came back was still receiving live frames after its snapshot.
    expect(followed.streams.get(streamId)!.applied.length).toBeGreaterThan(0);
  });

  it('coming back after completion shows the final answer at once, without a second navigation', async () => {
    const api = await system.client('bob');
    const thread = await newThread(api);
    const content = 'Short one [sim tokens=15 rate=500]';
    const sent = await api.post(`/api/threads/${thread}/messages`, { content });
    const streamId = sent.body.stream.id as string;
    expect((await streamEnded(api, streamId)).status).toBe('completed');

    const socket = await socketFor(api.token);
    const ack = await openThread(socket, thread);
    const expected = simulatedAnswer(content, 15).join('');
    expect(ack).toEqual({ ok: true, streams: [expect.objectContaining({ streamId, status: 'completed', content: expected })] });
    const messages = await api.get(`/api/threads/${thread}/messages`);
    expect(messages.body.items.map((m: { role: string; status: string }) => `${m.role}:${m.status}`)).toEqual(['user:complete', 'assistant:complete']);
    expect(messages.body.items[1].content).toBe(expected);
    expect((await api.get(`/api/threads/${thread}`)).body.activeStreamId).toBeNull();
  });

  it('a reconnecting client resumes from its snapshot with no gap or duplicate', async () => {
    const api = await system.client('carol');
    const thread = await newThread(api);
    const content = 'Reconnect please [sim tokens=100 rate=150]';
    let socket = await socketFor(api.token);
    let follower = new ThreadFollower(socket, thread);
    follower.snapshot(await openThread(socket, thread));
    const streamId = (await api.post(`/api/threads/${thread}/messages`, { content })).body.stream.id as string;
    await nextEvent(socket, 'stream.delta', (e) => e.streamId === streamId && e.seq >= 5);
    socket.disconnect();

    socket = await socketFor(api.token);
    follower = new ThreadFollower(socket, thread);
    const done = nextEvent(socket, 'stream.completed', (e) => e.streamId === streamId);
    follower.snapshot(await openThread(socket, thread));
    await done;
    expect(follower.content(streamId)).toBe(simulatedAnswer(content, 100).join(''));
    expect(follower.streams.get(streamId)!.waiting).toEqual([]);
  });

  it('two tabs on the same thread both show the whole answer', async () => {
    const api = await system.client('dave');
    const thread = await newThread(api);
    const content = 'Two tabs [sim tokens=60 rate=200]';
    const tabs = [await socketFor(api.token), await socketFor(api.token)];
    const followers = tabs.map((t) => new ThreadFollower(t, thread));
    for (const [i, t] of tabs.entries()) followers[i].snapshot(await openThread(t, thread));
    const streamId = (await api.post(`/api/threads/${thread}/messages`, { content })).body.stream.id as string;
    await Promise.all(tabs.map((t) => nextEvent(t, 'stream.completed', (e) => e.streamId === streamId)));
    for (const f of followers) expect(f.content(streamId)).toBe(simulatedAnswer(content, 60).join(''));
  });

  it('closing the thread or disconnecting never stops the generation', async () => {
    const api = await system.client('erin');
    const thread = await newThread(api);
    const socket = await socketFor(api.token);
    await openThread(socket, thread);
    const content = 'Keep going [sim tokens=40 rate=200]';
    const streamId = (await api.post(`/api/threads/${thread}/messages`, { content })).body.stream.id as string;
    await nextEvent(socket, 'stream.delta', (e) => e.streamId === streamId);
    await closeThread(socket, thread);
    socket.disconnect();
    const state = await streamEnded(api, streamId);
    expect(state.status).toBe('completed');
    expect(state.content).toBe(simulatedAnswer(content, 40).join(''));
  });

  it('a second send while a stream runs is 409 stream_in_progress', async () => {
    const api = await system.client('frank');
    const thread = await newThread(api);
    const first = await api.post(`/api/threads/${thread}/messages`, { content: 'long [sim tokens=200 rate=100]' });
    expect(first.status).toBe(202);
    const second = await api.post(`/api/threads/${thread}/messages`, { content: 'again' });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('stream_in_progress');
    expect((await api.post(`/api/streams/${first.body.stream.id}/cancel`)).status).toBe(202);
  });
});
