import { randomUUID } from 'node:crypto';
import type { Notification, Thread } from '@bgs/shared';
import type { HttpClient } from '../support/http';
import { connectSocket, nextEvent, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';

type Api = HttpClient & { token: string };

/** What one browser tab sees of a thread: its stream events, and the deletions and notifications of its user. */
class Tab {
  readonly streamEvents: Array<{ event: string; threadId: string }> = [];
  readonly notifications: Notification[] = [];

  constructor(readonly socket: TestSocket) {
    socket.onAny((event: string, payload: { threadId?: string }) => {
      if (event.startsWith('stream.') && payload?.threadId) this.streamEvents.push({ event, threadId: payload.threadId });
    });
    socket.on('notification.created', (n) => this.notifications.push(n));
  }

  eventsOf(threadId: string): string[] {
    return this.streamEvents.filter((e) => e.threadId === threadId).map((e) => e.event);
  }
}

/**
 * docs/protocol.md#rooms: deleting a thread tells every tab of its user (`thread.deleted`),
 * on every API instance, and the tabs that had it open leave its room and drop its
 * presence: a thread created again under the same id (an AI SDK chat id) is not heard by
 * them, and its answer, finished while no one looks at it, is notified.
 */
describe('thread.deleted', () => {
  let system: TestSystem;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ apis: 2, env: { FRAME_MS: '20' } });
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await system?.stop();
  });

  async function tab(api: Api, instance: number): Promise<Tab> {
    const socket = await connectSocket(system.url(instance), api.token);
    sockets.push(socket);
    return new Tab(socket);
  }

  it('reaches every tab of the user on every instance; the tabs leave the room and presence of the deleted thread', async () => {
    const userId = `deleter-${randomUUID().slice(0, 8)}`;
    const api: Api = await system.client(userId);
    // Tab A on the instance that handles the DELETE, tab B on the other one, tab C watching another thread.
    const [a, b, c] = [await tab(api, 0), await tab(api, 1), await tab(api, 1)];
    const doomed: Thread = (await api.post('/api/threads', { title: 'Doomed' })).body;
    const kept: Thread = (await api.post('/api/threads', { title: 'Kept' })).body;
    for (const t of [a, b]) expect((await openThread(t.socket, doomed.id)).ok).toBe(true);
    expect((await openThread(c.socket, kept.id)).ok).toBe(true);

    const heard = [a, b, c].map((t) => nextEvent(t.socket, 'thread.deleted', (e) => e.threadId === doomed.id));
    expect((await api.delete(`/api/threads/${doomed.id}`)).status).toBe(204);
    expect(await Promise.all(heard)).toEqual([{ threadId: doomed.id }, { threadId: doomed.id }, { threadId: doomed.id }]);

    // The same id comes back (as an AI SDK chat id does) with an answer nobody watches: the
    // reader of the POST leaves at once, before the answer ends.
    const reader = new AbortController();
    const posted = await fetch(`${system.url(0)}/api/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: doomed.id, messages: [{ role: 'user', parts: [{ type: 'text', text: 'Once more [sim tokens=40 rate=40]' }] }], trigger: 'submit-message' }),
      signal: reader.signal,
    });
    expect(posted.status).toBe(200);
    reader.abort();

    // Nobody has the new thread open, so its answer is notified (a leftover presence entry of
    // tab A or B would count as "open" and silence it). The notification comes after the
    // stream's events, which would have reached a tab still in the room by then.
    const notified = await Promise.all([a, b].map((t) => nextEvent(t.socket, 'notification.created', (n) => n.threadId === doomed.id, 20_000)));
    for (const n of notified) expect(n).toMatchObject({ type: 'ai.message.received', threadId: doomed.id });
    expect({ a: a.eventsOf(doomed.id), b: b.eventsOf(doomed.id) }).toEqual({ a: [], b: [] });

    // The thread is the user's again: opening it works, and its events arrive again.
    const reopened = await openThread(b.socket, doomed.id);
    expect(reopened).toMatchObject({ ok: true, streams: [expect.objectContaining({ status: 'completed' })] });
    // Tab C, which never had the thread open, kept its own room.
    const other = await api.post(`/api/threads/${kept.id}/messages`, { content: 'Still here [sim tokens=3 rate=1000]' });
    expect(other.status).toBe(202);
    await nextEvent(c.socket, 'stream.completed', (e) => e.streamId === other.body.stream.id);
  });

  it('a deleted thread with a running answer: its tabs get stream.cancelled, then thread.deleted', async () => {
    const api: Api = await system.client(`deleter-${randomUUID().slice(0, 8)}`);
    const [a, b] = [await tab(api, 0), await tab(api, 1)];
    const thread: Thread = (await api.post('/api/threads', { title: 'Busy' })).body;
    for (const t of [a, b]) expect((await openThread(t.socket, thread.id)).ok).toBe(true);
    const order: Record<string, string[]> = { a: [], b: [] };
    for (const [name, t] of [['a', a], ['b', b]] as const) {
      t.socket.on('stream.cancelled', () => order[name].push('stream.cancelled'));
      t.socket.on('thread.deleted', () => order[name].push('thread.deleted'));
    }
    const sent = await api.post(`/api/threads/${thread.id}/messages`, { content: 'Long one [sim tokens=2000 rate=100]' });
    expect(sent.status).toBe(202);
    await nextEvent(b.socket, 'stream.delta', (e) => e.streamId === sent.body.stream.id);

    const heard = [a, b].map((t) => nextEvent(t.socket, 'thread.deleted', (e) => e.threadId === thread.id));
    expect((await api.delete(`/api/threads/${thread.id}`)).status).toBe(204);
    await Promise.all(heard);
    expect(order).toEqual({ a: ['stream.cancelled', 'thread.deleted'], b: ['stream.cancelled', 'thread.deleted'] });
  });
});
