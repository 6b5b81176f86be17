import type { Notification, Thread } from '@bgs/client';
import { KEPT_NOTIFICATIONS, ThreadActivity } from './thread-activity';

const thread = (id: string, over: Partial<Thread> = {}): Thread => ({
  id,
  title: id.toUpperCase(),
  muted: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  activeStreamId: null,
  ...over,
});

let seq = 0;
const notification = (threadId: string, over: Partial<Notification> = {}): Notification => ({
  id: `n${++seq}`,
  type: 'ai.message.received',
  threadId,
  streamId: `s${seq}`,
  title: threadId.toUpperCase(),
  body: 'answer',
  readAt: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  ...over,
});

const streaming = (a: ThreadActivity) => a.rows().filter((r) => r.streaming).map((r) => r.id);
const unread = (a: ThreadActivity) => Object.fromEntries(a.rows().map((r) => [r.id, r.unread]));

describe('what the thread list shows beside each title', () => {
  it('marks the threads the server lists with an active stream as answering, in its order', () => {
    const a = new ThreadActivity();
    a.listed([thread('b', { activeStreamId: 's1' }), thread('a')]);
    expect(a.rows().map((r) => [r.id, r.streaming])).toEqual([
      ['b', true],
      ['a', false],
    ]);
  });

  it('marks a thread answering from the send, until its notification says it ended', () => {
    const a = new ThreadActivity();
    a.listed([thread('a'), thread('b')]);
    a.sent('a');
    expect(streaming(a)).toEqual(['a']);
    a.notified(notification('a'));
    expect(streaming(a)).toEqual([]);
  });

  it("believes the open thread's view over a list read that may be older", () => {
    const a = new ThreadActivity();
    a.listed([thread('a')]);
    a.select('a');
    a.viewed('a', true);
    a.viewed('a', false);
    a.listed([thread('a', { activeStreamId: 's1' })]); // read before the answer ended
    expect(streaming(a)).toEqual([]);
  });

  it('keeps the mark the view left a thread with, until a list read or a notification corrects it', () => {
    const a = new ThreadActivity();
    a.listed([thread('a'), thread('b')]);
    a.select('a');
    a.viewed('a', true);
    a.select('b');
    expect(streaming(a)).toEqual(['a']);
    a.listed([thread('a'), thread('b')]); // it ended muted: no notification, the next read says so
    expect(streaming(a)).toEqual([]);
  });

  it('counts unread notifications per thread; opening the thread reads them once', () => {
    const a = new ThreadActivity();
    a.listed([thread('a'), thread('b')]);
    a.notificationsLoaded([notification('a'), notification('a', { readAt: '2026-01-01T00:00:01.000Z' })]);
    a.notified(notification('a'));
    a.notified(notification('b'));
    expect(unread(a)).toEqual({ a: 2, b: 1 });
    expect(a.unreadCount).toBe(3);
    expect(a.readThread('a', '2026-01-01T00:00:02.000Z')).toHaveLength(2);
    expect(a.readThread('a', '2026-01-01T00:00:03.000Z')).toEqual([]);
    expect(unread(a)).toEqual({ a: 0, b: 1 });
    a.readAll('2026-01-01T00:00:04.000Z');
    expect(a.unreadCount).toBe(0);
  });

  it('holds a notification once when both the start-up read and the push bring it', () => {
    const a = new ThreadActivity();
    const n = notification('a');
    a.notificationsLoaded([n]);
    expect(a.notified(n)).toBe(false);
    expect(a.notifications).toHaveLength(1);
  });

  it('keeps only the newest notifications', () => {
    const a = new ThreadActivity();
    const pushed = Array.from({ length: KEPT_NOTIFICATIONS + 5 }, () => notification('a'));
    for (const n of pushed) a.notified(n);
    expect(a.notifications.map((n) => n.id)).toEqual(pushed.slice(5).reverse().map((n) => n.id));
  });

  it('shows a thread created or changed here at once', () => {
    const a = new ThreadActivity();
    a.listed([thread('a')]);
    a.upserted(thread('new'));
    a.upserted(thread('a', { muted: true, title: 'Renamed' }));
    a.select('new');
    expect(a.rows()).toEqual([
      { id: 'new', title: 'NEW', muted: false, streaming: false, unread: 0, selected: true },
      { id: 'a', title: 'Renamed', muted: true, streaming: false, unread: 0, selected: false },
    ]);
  });
});
