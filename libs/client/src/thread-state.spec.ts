import type { Message, SendMessageResult } from '@bgs/shared/browser';
import { visibleMessages } from './thread-messages';
import { activeStreamIds, emptyThread, reduceThread, threadStatus, type ThreadEvent, type ThreadState } from './thread-state';

const T = 'thread-1';
const S = 'stream-1';
const A = 'assistant-1';

const user = (over: Partial<Message> = {}): Message => ({
  id: 'user-1', threadId: T, role: 'user', content: 'Hello', status: 'complete', version: 0, createdAt: '2026-01-01T00:00:00.000Z', ...over,
});
const assistant = (over: Partial<Message> = {}): Message => ({
  id: A, threadId: T, role: 'assistant', content: '', status: 'streaming', streamId: S, version: 0, createdAt: '2026-01-01T00:00:00.001Z', ...over,
});
const sent = (): SendMessageResult => ({
  userMessage: user(),
  assistantMessage: assistant(),
  stream: { id: S, threadId: T, messageId: A, status: 'queued', attempt: 0, seq: 0, content: '' },
});
const delta = (seq: number, text: string, attempt = 1): ThreadEvent => ({ type: 'delta', streamId: S, attempt, seq, text });
const run = (events: ThreadEvent[], from: ThreadState = emptyThread(T)) => events.reduce(reduceThread, from);
const answer = (s: ThreadState) => visibleMessages(s).find((m) => m.role === 'assistant');

describe('reduceThread: the resume rule per thread', () => {
  it('shows frames in order, once each: duplicates and replays change nothing', () => {
    const s = run([{ type: 'sent', result: sent() }, delta(1, 'a'), delta(2, 'b'), delta(2, 'b'), delta(1, 'a'), delta(3, 'c')]);
    expect(answer(s)).toMatchObject({ content: 'abc', status: 'streaming' });
  });

  it('holds a frame past a gap until the missing frame arrives, then applies both', () => {
    const s1 = run([{ type: 'sent', result: sent() }, delta(1, 'a'), delta(3, 'c')]);
    expect(answer(s1)?.content).toBe('a');
    expect(answer(run([delta(2, 'b')], s1))?.content).toBe('abc');
  });

  it('frames that arrive before the thread.open snapshot apply on top of it', () => {
    const s = run([
      { type: 'history', messages: [user(), assistant({ content: 'ab', attempt: 1, seq: 2 })] },
      delta(5, 'e'),
      delta(4, 'd'),
      { type: 'snapshot', stream: { streamId: S, messageId: A, status: 'streaming', attempt: 1, seq: 3, content: 'abc' } },
    ]);
    expect(answer(s)?.content).toBe('abcde');
  });

  it('ignores a stale snapshot that arrives after newer frames', () => {
    const live = run([{ type: 'sent', result: sent() }, delta(1, 'a'), delta(2, 'b'), delta(3, 'c')]);
    const stale = run([{ type: 'snapshot', stream: { streamId: S, messageId: A, status: 'streaming', attempt: 1, seq: 1, content: 'a' } }], live);
    expect(stale).toBe(live);
    expect(answer(stale)?.content).toBe('abc');
  });

  it('ignores a stale history page (a pane read before newer frames arrived)', () => {
    const live = run([{ type: 'sent', result: sent() }, delta(1, 'a'), delta(2, 'b')]);
    const s = run([{ type: 'history', messages: [user(), assistant({ content: 'a', attempt: 1, seq: 1, version: 5 })] }], live);
    expect(answer(s)).toMatchObject({ content: 'ab', status: 'streaming' });
  });

  it('a newer snapshot replaces older content and the waiting frames continue from it', () => {
    const s = run([
      { type: 'sent', result: sent() },
      delta(1, 'a'),
      delta(9, 'i'),
      { type: 'snapshot', stream: { streamId: S, messageId: A, status: 'streaming', attempt: 1, seq: 8, content: 'abcdefgh' } },
    ]);
    expect(answer(s)?.content).toBe('abcdefghi');
  });

  it('a reset starts the new attempt from empty content and drops the old attempt’s frames', () => {
    const s = run([{ type: 'sent', result: sent() }, delta(1, 'old'), { type: 'reset', streamId: S, attempt: 2 }, delta(2, 'x'), delta(2, 'late', 1), delta(1, 'new', 2)]);
    expect(answer(s)?.content).toBe('new');
    expect(answer(run([delta(2, '!', 2)], s))?.content).toBe('new!');
  });

  it('frame 1 of a newer attempt starts it even when the reset was missed', () => {
    const s = run([{ type: 'sent', result: sent() }, delta(1, 'old'), delta(2, 'er'), delta(1, 'new', 2)]);
    expect(answer(s)?.content).toBe('new');
  });

  it('the stored final message wins over everything that arrives later', () => {
    const final = assistant({ content: 'final answer', status: 'complete', version: 1_000_041 });
    const done = run([{ type: 'sent', result: sent() }, delta(1, 'fin'), { type: 'completed', streamId: S, message: final }]);
    const after = run(
      [
        delta(2, 'al'),
        { type: 'snapshot', stream: { streamId: S, messageId: A, status: 'streaming', attempt: 1, seq: 30, content: 'x'.repeat(30) } },
        { type: 'history', messages: [user(), assistant({ content: 'fin', attempt: 1, seq: 1, version: 9 })] },
        { type: 'sent', result: sent() },
      ],
      done,
    );
    expect(answer(after)).toMatchObject({ content: 'final answer', status: 'complete' });
    expect(after.records[A].status).toBe('complete');
  });

  it('a failure keeps the partial text, and the stored final text replaces it when read', () => {
    const failed = run([{ type: 'sent', result: sent() }, delta(1, 'part'), { type: 'failed', streamId: S, messageId: A, error: { code: 'provider_error', message: 'boom' } }]);
    expect(answer(failed)).toMatchObject({ content: 'part', status: 'failed', error: { code: 'provider_error' } });
    expect(activeStreamIds(failed)).toEqual([]);
    const stored = run([{ type: 'history', messages: [user(), assistant({ content: 'partial', status: 'failed', version: 1_000_005 })] }], failed);
    expect(answer(stored)).toMatchObject({ content: 'partial', status: 'failed', error: { code: 'provider_error' } });
  });

  it('a cancel keeps the partial text', () => {
    const s = run([{ type: 'sent', result: sent() }, delta(1, 'some '), delta(2, 'text'), { type: 'cancelled', streamId: S, messageId: A }]);
    expect(answer(s)).toMatchObject({ content: 'some text', status: 'cancelled' });
  });

  it('an ended-stream snapshot (coming back after completion) shows the final answer at once', () => {
    const s = run([
      { type: 'history', messages: [user(), assistant({ content: 'ab', attempt: 1, seq: 2 })] },
      { type: 'snapshot', stream: { streamId: S, messageId: A, status: 'completed', attempt: 1, seq: 40, content: 'the whole answer' } },
    ]);
    expect(answer(s)).toMatchObject({ content: 'the whole answer', status: 'complete' });
  });
});

describe('reduceThread: sends', () => {
  it('shows the message as sending until the answer with its ids arrives, then the stored pair', () => {
    const sending = run([{ type: 'sending', pending: { localId: 'local-1', content: 'Hello', createdAt: '2026-01-01T00:00:00.000Z' } }]);
    expect(visibleMessages(sending)).toEqual([expect.objectContaining({ id: 'local-1', status: 'sending', content: 'Hello' })]);
    const s = run([{ type: 'sent', localId: 'local-1', result: sent() }], sending);
    expect(visibleMessages(s).map((m) => `${m.id}:${m.status}`)).toEqual(['user-1:complete', `${A}:streaming`]);
    expect(activeStreamIds(s)).toEqual([S]);
  });

  it('frames and the start that arrive before the send answer are kept and shown', () => {
    const early = run([
      { type: 'sending', pending: { localId: 'local-1', content: 'Hello', createdAt: '2026-01-01T00:00:00.000Z' } },
      { type: 'started', streamId: S, messageId: A, attempt: 1 },
      delta(1, 'a'),
      delta(2, 'b'),
    ]);
    expect(visibleMessages(early).map((m) => `${m.id}:${m.content}`)).toEqual(['local-1:Hello', `${A}:ab`]);
    const s = run([{ type: 'sent', localId: 'local-1', result: sent() }, delta(3, 'c')], early);
    expect(visibleMessages(s).map((m) => `${m.id}:${m.content}`)).toEqual(['user-1:Hello', `${A}:abc`]);
  });

  it('a history read that brings the stored message first shows it once, not twice', () => {
    const earlier = user({ id: 'user-0', createdAt: '2025-12-31T00:00:00.000Z' });
    const s = run([
      { type: 'history', messages: [earlier] },
      { type: 'sending', pending: { localId: 'local-1', content: 'Hello', createdAt: '2026-01-01T00:00:00.000Z' } },
    ]);
    // The same text sent earlier does not hide the new send.
    expect(visibleMessages(s).map((m) => m.id)).toEqual(['user-0', 'local-1']);
    const s2 = run([{ type: 'history', messages: [earlier, user(), assistant()] }], s);
    expect(visibleMessages(s2).map((m) => m.id)).toEqual(['user-0', 'user-1', A]);
  });

  it('a failed send removes the pending message', () => {
    const s = run([
      { type: 'sending', pending: { localId: 'local-1', content: 'Hello', createdAt: '2026-01-01T00:00:00.000Z' } },
      { type: 'sendFailed', localId: 'local-1' },
    ]);
    expect(visibleMessages(s)).toEqual([]);
  });
});

describe('reduceThread: bookkeeping', () => {
  it('returns the same state when an event changes nothing, so nothing re-renders', () => {
    const s = run([{ type: 'sent', result: sent() }, delta(1, 'a')]);
    expect(reduceThread(s, delta(1, 'a'))).toBe(s);
    expect(reduceThread(s, { type: 'reset', streamId: S, attempt: 1 })).toBe(s);
  });

  it('orders stored messages oldest first whatever order they arrive in', () => {
    const older = user({ id: 'u0', createdAt: '2025-01-01T00:00:00.000Z' });
    const s = run([{ type: 'history', messages: [user(), assistant()] }, { type: 'history', messages: [older] }]);
    expect(visibleMessages(s).map((m) => m.id)).toEqual(['u0', 'user-1', A]);
    expect(s.loaded).toBe(true);
  });
});

describe('reopening a thread that was left', () => {
  it('marks what is held as not current until the history is read again', () => {
    const loaded = reduceThread(emptyThread('t1'), { type: 'history', messages: [] });
    expect(loaded.loaded).toBe(true);
    const reopened = reduceThread(loaded, { type: 'reopened' });
    expect(reopened.loaded).toBe(false);
    expect(reduceThread(reopened, { type: 'history', messages: [] }).loaded).toBe(true);
  });

  it('changes nothing for a thread never loaded', () => {
    const fresh = emptyThread('t2');
    expect(reduceThread(fresh, { type: 'reopened' })).toBe(fresh);
  });
});

describe('deleted threads and what a view says', () => {
  it('a deletion stops the running answer (its text stays) and drops what was being sent', () => {
    const s = run([
      { type: 'sent', result: sent() },
      delta(1, 'part'),
      { type: 'sending', pending: { localId: 'local-9', content: 'more', createdAt: '2026-01-01T00:00:01.000Z' } },
      { type: 'link', link: 'live', problem: null },
      { type: 'deleted' },
    ]);
    expect(s.deleted).toBe(true);
    expect(answer(s)).toMatchObject({ content: 'part', status: 'cancelled' });
    expect(visibleMessages(s).some((m) => m.status === 'sending')).toBe(false);
    expect(activeStreamIds(s)).toEqual([]);
    expect(threadStatus(s)).toBe('deleted');
    expect(reduceThread(s, { type: 'deleted' })).toBe(s);
  });

  it('status precedence: deleted, error, retrying, offline, loading, live', () => {
    const base = run([{ type: 'history', messages: [] }, { type: 'link', link: 'live', problem: null }]);
    expect(threadStatus(base)).toBe('live');
    expect(threadStatus(run([{ type: 'link', link: 'joining', problem: null }], base))).toBe('loading');
    expect(threadStatus(run([{ type: 'link', link: 'offline', problem: null }], base))).toBe('offline');
    const retrying = run([{ type: 'link', link: 'retrying', problem: { code: 'unavailable', message: 'm' } }], base);
    expect(threadStatus(retrying)).toBe('retrying');
    expect(threadStatus(run([{ type: 'historyProblem', problem: { code: 'network', message: 'm' } }], base))).toBe('retrying');
    expect(threadStatus(run([{ type: 'error', error: { code: 'not_found', message: 'm' } }], retrying))).toBe('error');
    expect(threadStatus(run([{ type: 'error', error: { code: 'not_found', message: 'm' } }, { type: 'deleted' }], retrying))).toBe('deleted');
  });

  it('a history read clears the problems it had, and a deletion (the thread exists again)', () => {
    const s = run([{ type: 'historyProblem', problem: { code: 'unavailable', message: 'm' } }, { type: 'deleted' }, { type: 'history', messages: [user()] }]);
    expect(s).toMatchObject({ deleted: false, historyProblem: null, error: null, loaded: true });
  });

  it('the same link twice changes nothing (no re-render)', () => {
    const s = run([{ type: 'link', link: 'retrying', problem: { code: 'timeout', message: 'm' } }]);
    expect(reduceThread(s, { type: 'link', link: 'retrying', problem: { code: 'timeout', message: 'm' } })).toBe(s);
  });
});
