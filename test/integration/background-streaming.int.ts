import { simulatedAnswer } from '@bgs/server';
import { streamEnded } from '../support/http';
import { closeThread, connectSocket, nextEvent, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';
import { expectContiguous, expectSameTextAsReference, frameSteps, seqRange, stepView } from '../support/follower-assertions';
import { ThreadFollower } from '../support/thread-follower';

/** docs/protocol.md#generation-semantics and #resume-rule: a generation keeps running across thread switches and resumes live. */
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
    const before = followed;
    const seqWhenLeft = before.streams.get(streamId)?.state.seq ?? 0;
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
    // The client that never left saw every frame exactly once, in order, each extending
    // the text by that frame, and the text the frames assembled is the final message.
    const frames = expectContiguous(stayed, streamId, { expected, fromFirstFrame: true, ended: 'completed' });
    expect(frames.duplicates).toBe(0);
    expect(frames.waiting).toEqual([]);
    expect(frames.steps.map((s) => `${s.kind}:${s.attempt}:${s.seq}`)).toEqual(seqRange(1, frames.steps.length).map((seq) => `frame:1:${seq}`));
    expect(frames.final).toEqual({ status: 'completed', content: expected });
    // Before leaving, the switcher had applied frames 1.. from the start, gap-free.
    const left = expectContiguous(before, streamId, { expected, fromFirstFrame: true });
    expect(frameSteps(left).map((s) => s.seq)).toEqual(seqRange(1, seqWhenLeft));
    expect(seqWhenLeft).toBeGreaterThanOrEqual(3);
    // Coming back it shows the snapshot (past where it left, at least the frames the
    // stayer saw meanwhile), then applies the live tail frame by frame from the seq after it.
    const back = expectContiguous(followed, streamId, { expected, ended: 'completed' });
    const [snap, ...tail] = back.steps;
    expect(snap).toEqual(expect.objectContaining({ kind: 'snapshot', status: 'streaming', attempt: 1 }));
    expect(snap.seq).toBeGreaterThanOrEqual(seqWhenLeft + 5);
    expect(tail.length).toBeGreaterThan(0);
    expect(tail.map((s) => `${s.kind}:${s.attempt}:${s.seq}`)).toEqual(seqRange(snap.seq + 1, snap.seq + tail.length).map((seq) => `frame:1:${seq}`));
    expect(tail.at(-1)?.seq).toBe(frames.steps.at(-1)?.seq);
    // At every step it shows exactly what the client that never left showed at that seq.
    expectSameTextAsReference(followed, stayed, streamId);
    expect(stepView(back.steps.at(-1)!)).toEqual(stepView(frames.steps.at(-1)!));
    expect(back.final).toEqual({ status: 'completed', content: expected });
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
    // Long enough (2 s) that the client is back well before the end.
    const content = 'Reconnect please [sim tokens=300 rate=150]';
    const expected = simulatedAnswer(content, 300).join('');
    let socket = await socketFor(api.token);
    const first = new ThreadFollower(socket, thread);
    first.snapshot(await openThread(socket, thread));
    const streamId = (await api.post(`/api/threads/${thread}/messages`, { content })).body.stream.id as string;
    await nextEvent(socket, 'stream.delta', (e) => e.streamId === streamId && e.seq >= 5);
    socket.disconnect();
    // What it showed before the connection dropped: frames 1.. applied one by one.
    const beforeDrop = expectContiguous(first, streamId, { expected, fromFirstFrame: true });
    const shownBeforeDrop = beforeDrop.steps.map(stepView);
    expect(shownBeforeDrop.map((s) => s.seq)).toEqual(seqRange(1, shownBeforeDrop.length));
    expect(shownBeforeDrop.length).toBeGreaterThanOrEqual(5);

    // The app reconnects, keeps what it showed, opens the thread again and applies the snapshot.
    socket = await socketFor(api.token);
    const follower = new ThreadFollower(socket, thread).takeOver(first);
    const done = nextEvent(socket, 'stream.completed', (e) => e.streamId === streamId);
    const ack = await openThread(socket, thread);
    follower.snapshot(ack);
    expect(ack.ok && ack.streams[0].status).toBe('streaming');
    await done;
    expect(follower.content(streamId)).toBe(expected);
    expect(follower.streams.get(streamId)!.waiting).toEqual([]);

    // Step by step: the frames before the drop, then the snapshot (same attempt, further on,
    // extending what was shown), then every later frame exactly once, in order, ending on
    // the final message.
    const resumed = expectContiguous(follower, streamId, { expected, ended: 'completed' });
    expect(resumed.steps.slice(0, shownBeforeDrop.length).map(stepView)).toEqual(shownBeforeDrop);
    // The snapshot is a step only when it held more than was shown (frames were missed
    // while disconnected); either way every seq after the drop is accounted for once.
    const afterDrop = resumed.steps.slice(shownBeforeDrop.length);
    const snapshots = afterDrop.filter((s) => s.kind === 'snapshot');
    expect(snapshots.length).toBeLessThanOrEqual(1);
    const from = snapshots.length === 1 ? afterDrop.indexOf(snapshots[0]) : -1;
    expect(afterDrop.slice(0, Math.max(0, from)).every((s) => s.kind === 'frame')).toBe(true);
    if (snapshots.length === 1) {
      expect(snapshots[0]).toEqual(expect.objectContaining({ kind: 'snapshot', attempt: 1, status: 'streaming' }));
      expect(snapshots[0].seq).toBeGreaterThan(afterDrop[from - 1]?.seq ?? shownBeforeDrop.at(-1)!.seq);
    }
    const held = from >= 0 ? afterDrop[from] : shownBeforeDrop.at(-1)!;
    const tail = afterDrop.slice(from + 1);
    expect(tail.length).toBeGreaterThan(0);
    expect(tail.map((s) => `${s.kind}:${s.attempt}:${s.seq}`)).toEqual(seqRange(held.seq + 1, held.seq + tail.length).map((seq) => `frame:1:${seq}`));
    expect(resumed.duplicates).toBe(0);
    expect(resumed.final).toEqual({ status: 'completed', content: expected });
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
    const expected = simulatedAnswer(content, 60).join('');
    for (const f of followers) expect(f.content(streamId)).toBe(expected);
    // Each tab applied every frame once, from seq 1, and assembled the final message.
    const [one, two] = followers.map((f) => expectContiguous(f, streamId, { expected, fromFirstFrame: true, ended: 'completed' }));
    for (const f of [one, two]) {
      expect(f.steps.map((s) => `${s.kind}:${s.attempt}:${s.seq}`)).toEqual(seqRange(1, f.steps.length).map((seq) => `frame:1:${seq}`));
      expect(f.final).toEqual({ status: 'completed', content: expected });
    }
    // Both tabs showed the same text after each frame.
    expect(two.steps.map(stepView)).toEqual(one.steps.map(stepView));
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
