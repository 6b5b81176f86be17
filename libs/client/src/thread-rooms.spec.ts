import type { ThreadOpenAck } from '@bgs/shared/browser';
import { ThreadRooms } from './thread-rooms';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A socket double: records calls, answers them when the test says. */
function fakeChannel() {
  const calls: string[] = [];
  const answers: Array<{ call: string; answer: ReturnType<typeof deferred<any>> }> = [];
  const channel = {
    connected: false,
    open(threadId: string) {
      const answer = deferred<ThreadOpenAck>();
      calls.push(`open ${threadId}`);
      answers.push({ call: `open ${threadId}`, answer });
      return answer.promise;
    },
    close(threadId: string) {
      const answer = deferred<unknown>();
      calls.push(`close ${threadId}`);
      answers.push({ call: `close ${threadId}`, answer });
      return answer.promise;
    },
  };
  /** Answers the oldest unanswered call. */
  const answer = async (value: unknown = { ok: true, streams: [] }) => {
    const next = answers.shift();
    if (!next) throw new Error('no call to answer');
    next.answer.resolve(value);
    await new Promise((r) => setImmediate(r));
  };
  const fail = async (err = new Error('socket has been disconnected')) => {
    answers.shift()?.answer.reject(err);
    await new Promise((r) => setImmediate(r));
  };
  return { channel, calls, answer, fail };
}

function setup() {
  const fake = fakeChannel();
  const snapshots: string[] = [];
  const refusals: string[] = [];
  const rooms = new ThreadRooms(fake.channel, {
    snapshot: (threadId) => snapshots.push(threadId),
    refused: (threadId, e) => refusals.push(`${threadId}:${e.code}`),
  });
  const connect = () => {
    fake.channel.connected = true;
    rooms.connected();
  };
  return { ...fake, rooms, snapshots, refusals, connect };
}

describe('ThreadRooms', () => {
  it('joins a viewed thread once connected and hands over the snapshot', async () => {
    const t = setup();
    let ready = false;
    void t.rooms.want('A').then(() => (ready = true));
    expect(t.calls).toEqual([]); // waits for the first connection
    t.connect();
    expect(t.calls).toEqual(['open A']);
    await t.answer();
    expect(t.snapshots).toEqual(['A']);
    expect(ready).toBe(true);
    expect(t.rooms.joinedCount).toBe(1);
  });

  it('never lets a close overtake its open: leaving while the open is in flight closes after the ack', async () => {
    const t = setup();
    t.connect();
    void t.rooms.want('A');
    t.rooms.drop('A');
    expect(t.calls).toEqual(['open A']);
    await t.answer();
    expect(t.calls).toEqual(['open A', 'close A']);
    await t.answer({ ok: true });
    expect(t.rooms.joinedCount).toBe(0);
  });

  it('coalesces quick switches: away and back before the ack costs one open', async () => {
    const t = setup();
    t.connect();
    void t.rooms.want('A');
    t.rooms.drop('A');
    void t.rooms.want('A');
    t.rooms.drop('A');
    void t.rooms.want('A');
    await t.answer();
    expect(t.calls).toEqual(['open A']);
    expect(t.rooms.joinedCount).toBe(1);
  });

  it('joins every viewed thread again after a reconnect, and only those', async () => {
    const t = setup();
    t.connect();
    void t.rooms.want('A');
    void t.rooms.want('B');
    await t.answer();
    await t.answer();
    t.rooms.drop('B');
    await t.answer({ ok: true });
    t.channel.connected = false;
    t.rooms.disconnected();
    expect(t.rooms.joinedCount).toBe(0);
    t.calls.length = 0;
    t.connect();
    expect(t.calls).toEqual(['open A']);
  });

  it('an ack lost to a disconnect is dropped; the reconnect opens again', async () => {
    const t = setup();
    t.connect();
    void t.rooms.want('A');
    t.channel.connected = false;
    t.rooms.disconnected();
    await t.fail();
    expect(t.rooms.joinedCount).toBe(0);
    t.connect();
    expect(t.calls).toEqual(['open A', 'open A']);
  });

  it('a refused open (deleted thread) is reported and not retried until viewed again', async () => {
    const t = setup();
    t.connect();
    let ready = false;
    void t.rooms.want('A').then(() => (ready = true));
    await t.answer({ ok: false, error: { code: 'not_found' } });
    expect(ready).toBe(true);
    expect(t.refusals).toEqual(['A:not_found']);
    expect(t.calls).toEqual(['open A']);
    void t.rooms.want('A');
    expect(t.calls).toEqual(['open A', 'open A']);
  });

  it('viewing while the socket is down resolves at once once the first connection failed', async () => {
    const t = setup();
    t.rooms.disconnected();
    await expect(t.rooms.want('A')).resolves.toBeUndefined();
    expect(t.calls).toEqual([]);
  });
});
