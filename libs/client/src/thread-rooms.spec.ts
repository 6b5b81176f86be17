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
  const links: string[] = [];
  const rooms: ThreadRooms = new ThreadRooms(
    fake.channel,
    {
      snapshot: (threadId) => snapshots.push(threadId),
      refused: (threadId, e) => refusals.push(`${threadId}:${e.code}`),
      changed: (threadId) => {
        const link = `${threadId}:${rooms.link(threadId)}${rooms.problem(threadId) ? `(${rooms.problem(threadId)?.code})` : ''}`;
        if (links.at(-1) !== link) links.push(link);
      },
    },
    { minMs: 1_000, maxMs: 4_000 },
  );
  const connect = () => {
    fake.channel.connected = true;
    rooms.connected();
  };
  return { ...fake, rooms, snapshots, refusals, links, connect };
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

  describe('retries', () => {
    beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate'] }));
    afterEach(() => jest.useRealTimers());
    /** Past the longest jittered delay of retry `attempt` (min 1 s doubling, ±25 %). */
    const pastRetry = (attempt: number) => jest.advanceTimersByTimeAsync(Math.min(4_000, 1_000 * 2 ** attempt) * 1.25 + 1);

    it('an open refused for now (unavailable) is asked again after a growing backoff, while the view waits no longer', async () => {
      const t = setup();
      t.connect();
      let ready = false;
      void t.rooms.want('A').then(() => (ready = true));
      await t.answer({ ok: false, error: { code: 'unavailable', message: 'retry shortly' } });
      expect(ready).toBe(true); // "cannot be joined now" is an answer
      expect(t.rooms.link('A')).toBe('retrying');
      expect(t.rooms.timers).toBe(1);
      expect(t.refusals).toEqual([]);
      await jest.advanceTimersByTimeAsync(749);
      expect(t.calls).toEqual(['open A']); // not before the shortest jittered delay
      await pastRetry(0);
      expect(t.calls).toEqual(['open A', 'open A']);
      await t.answer({ ok: false, error: { code: 'internal' } });
      await jest.advanceTimersByTimeAsync(1_499);
      expect(t.calls).toHaveLength(2); // the second wait is longer
      await pastRetry(1);
      expect(t.calls).toHaveLength(3);
      await t.answer();
      expect(t.rooms.link('A')).toBe('live');
      expect(t.rooms.timers).toBe(0);
      expect(t.links).toEqual(['A:joining', 'A:retrying(unavailable)', 'A:retrying(internal)', 'A:live']);
    });

    it('an open not answered in time is asked again; leaving then closes it, since the server may still run it', async () => {
      const t = setup();
      t.connect();
      void t.rooms.want('A');
      await t.fail(new Error('operation has timed out'));
      expect(t.rooms.link('A')).toBe('retrying');
      expect(t.rooms.problem('A')?.code).toBe('timeout');
      t.rooms.drop('A');
      expect(t.calls).toEqual(['open A', 'close A']);
      expect(t.rooms.timers).toBe(0);
      await t.fail(new Error('operation has timed out')); // the close is not answered either: left all the same
      await pastRetry(3);
      expect(t.calls).toEqual(['open A', 'close A']);
      expect(t.rooms.link('A')).toBe('idle');
    });

    it('leaving while an open is pending closes after it, whether it is answered or times out', async () => {
      const t = setup();
      t.connect();
      void t.rooms.want('A');
      t.rooms.drop('A');
      await t.fail(new Error('operation has timed out'));
      expect(t.calls).toEqual(['open A', 'close A']);
    });

    it('a refusal for now, then leaving: nothing to close (the server undid the open), no retry left', async () => {
      const t = setup();
      t.connect();
      void t.rooms.want('A');
      await t.answer({ ok: false, error: { code: 'unavailable' } });
      t.rooms.drop('A');
      await pastRetry(3);
      expect(t.calls).toEqual(['open A']);
      expect(t.rooms.timers).toBe(0);
    });

    it('a reconnect drops pending retries and opens at once', async () => {
      const t = setup();
      t.connect();
      void t.rooms.want('A');
      await t.answer({ ok: false, error: { code: 'unavailable' } });
      t.channel.connected = false;
      t.rooms.disconnected();
      expect(t.rooms.link('A')).toBe('offline');
      expect(t.rooms.timers).toBe(0);
      t.connect();
      expect(t.calls).toEqual(['open A', 'open A']);
    });
  });

  it('a deleted thread is left and not joined again, even after a reconnect, until viewed anew', async () => {
    const t = setup();
    t.connect();
    void t.rooms.want('A');
    await t.answer();
    t.rooms.forget('A');
    expect(t.calls).toEqual(['open A', 'close A']);
    await t.answer({ ok: true });
    expect(t.rooms.joinedCount).toBe(0);
    expect(t.rooms.link('A')).toBe('idle');
    t.channel.connected = false;
    t.rooms.disconnected();
    t.connect();
    expect(t.calls).toEqual(['open A', 'close A']);
    void t.rooms.want('A');
    expect(t.calls).toEqual(['open A', 'close A', 'open A']);
  });

  it('a deletion heard while the open is in flight leaves once it is answered', async () => {
    const t = setup();
    t.connect();
    void t.rooms.want('A');
    t.rooms.forget('A');
    await t.answer();
    expect(t.calls).toEqual(['open A', 'close A']);
  });
});
