import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { Notification } from '@bgs/shared';
import { simulatedAnswer } from '@bgs/server';
import { eventually, type HttpAnswer, type HttpClient } from '../support/http';
import { closeThread, connectSocket, nextEvent, openThread, type TestSocket } from '../support/sockets';
import { TestSystem } from '../support/system';

// Long enough that a loaded machine's event-loop stalls never lapse a live tab's presence
// (heartbeats come every third of it), short enough to wait out in the crash test.
const PRESENCE_TTL_MS = 3_000;

/** What a chat app's notification badge sees: every `notification.created` pushed to the user's room. */
class Inbox {
  readonly received: Notification[] = [];

  constructor(readonly socket: TestSocket) {
    socket.on('notification.created', (n) => this.received.push(n));
  }

  forStream(streamId: string): Notification[] {
    return this.received.filter((n) => n.streamId === streamId);
  }

  /** The push for `streamId`, already received or the next one to arrive. */
  async waitFor(streamId: string, timeoutMs = 15_000): Promise<Notification> {
    const seen = this.forStream(streamId)[0];
    return seen ?? nextEvent(this.socket, 'notification.created', (n) => n.streamId === streamId, timeoutMs);
  }
}

interface User {
  api: HttpClient & { token: string };
  /** A socket on API 0, in the user's room, looking at no thread. */
  inbox: Inbox;
}

/** docs/protocol.md#notifications and its table, as a user sees them through sockets and REST. */
describe('completion notifications', () => {
  let system: TestSystem;
  let pg: Client;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({
      apis: 2,
      workers: 1,
      env: { FRAME_MS: '20', PRESENCE_TTL_MS: String(PRESENCE_TTL_MS), GENERATION_ATTEMPTS: '3', GENERATION_BACKOFF_MS: '100', RATE_LIMIT_SENDS: '1000' },
    });
    pg = new Client({ connectionString: system.db.url });
    await pg.connect();
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await pg?.end();
    await system?.stop();
  });

  async function socketOn(api: number, token: string): Promise<TestSocket> {
    const s = await connectSocket(system.url(api), token);
    sockets.push(s);
    return s;
  }

  async function newUser(name: string): Promise<User> {
    const api = await system.client(`${name}-${randomBytes(3).toString('hex')}`);
    return { api, inbox: new Inbox(await socketOn(0, api.token)) };
  }

  async function newThread(user: User, title: string, muted = false): Promise<string> {
    const res = await user.api.post('/api/threads', { title });
    expect(res.status).toBe(201);
    if (muted) expect((await user.api.patch(`/api/threads/${res.body.id}`, { muted: true })).body.muted).toBe(true);
    return res.body.id as string;
  }

  async function send(user: User, threadId: string, content: string): Promise<string> {
    const res = await user.api.post(`/api/threads/${threadId}/messages`, { content });
    expect(res.status).toBe(202);
    return res.body.stream.id as string;
  }

  /** How the listener decided the stream (recorded on the stream row, set once). */
  function decisionOf(streamId: string): Promise<string> {
    return eventually(async () => {
      const { rows } = await pg.query<{ notification_decision: string | null }>('SELECT notification_decision FROM streams WHERE id = $1', [streamId]);
      return rows[0]?.notification_decision ?? undefined;
    }, `the notification decision of stream ${streamId}`);
  }

  async function notificationsOf(user: User, query = ''): Promise<Notification[]> {
    const res = await user.api.get(`/api/notifications${query}`);
    expect(res.status).toBe(200);
    return res.body.items as Notification[];
  }

  /**
   * Returns once every push decided so far has reached the user's socket. The single
   * worker decides and pushes in one process, through one Redis connection, so pushes
   * arrive in decision order: once a later notifying stream's push is here, any push
   * of an earlier stream would be here too.
   */
  async function settle(user: User): Promise<void> {
    const barrier = await send(user, await newThread(user, 'Barrier'), 'barrier [sim tokens=2 rate=1000]');
    await user.inbox.waitFor(barrier);
  }

  async function expectNoNotification(user: User, streamId: string, decision: string): Promise<void> {
    expect(await decisionOf(streamId)).toBe(decision);
    await settle(user);
    expect(user.inbox.forStream(streamId)).toEqual([]);
    expect((await notificationsOf(user)).filter((n) => n.streamId === streamId)).toEqual([]);
  }

  /** Exactly one notification for the stream, pushed once and listed once. */
  async function expectExactlyOne(user: User, streamId: string): Promise<Notification> {
    const pushed = await user.inbox.waitFor(streamId);
    await settle(user);
    expect(user.inbox.forStream(streamId)).toEqual([pushed]);
    expect((await notificationsOf(user, '?limit=100')).filter((n) => n.streamId === streamId)).toEqual([pushed]);
    return pushed;
  }

  async function streamState(user: User, streamId: string) {
    return (await user.api.get(`/api/streams/${streamId}`)).body as { status: string; attempt: number; content: string };
  }

  describe('the notification table (docs/protocol.md#notifications)', () => {
    it('completed while the thread is not open: ai.message.received with the thread title and the start of the answer, pushed and listed', async () => {
      const user = await newUser('ann');
      const thread = await newThread(user, 'Trip to Lisbon');
      // The user looks at another thread while the answer is generated.
      const elsewhere = await newThread(user, 'Elsewhere');
      expect((await openThread(user.inbox.socket, elsewhere)).ok).toBe(true);
      const content = 'Plan three days [sim tokens=60 rate=2000]';
      const streamId = await send(user, thread, content);

      const pushed = await user.inbox.waitFor(streamId);
      const answer = simulatedAnswer(content, 60).join('');
      expect(pushed).toEqual({
        id: expect.any(String),
        type: 'ai.message.received',
        threadId: thread,
        streamId,
        title: 'Trip to Lisbon',
        body: expect.any(String),
        readAt: null,
        createdAt: expect.any(String),
      });
      expect(pushed.body.endsWith('…')).toBe(true);
      expect(answer.startsWith(pushed.body.slice(0, -1))).toBe(true);
      expect(pushed.body.length).toBeGreaterThan(40);
      expect(await notificationsOf(user)).toEqual([pushed]);
      expect(await decisionOf(streamId)).toBe('notified');
    });

    it('completed while the thread is open (on another API instance): no notification', async () => {
      const user = await newUser('ben');
      const thread = await newThread(user, 'Open one');
      const viewer = await socketOn(1, user.api.token);
      expect((await openThread(viewer, thread)).ok).toBe(true);
      const streamId = await send(user, thread, 'hello [sim tokens=20 rate=1000]');
      await nextEvent(viewer, 'stream.completed', (e) => e.streamId === streamId);
      await expectNoNotification(user, streamId, 'skipped_open');
    });

    it('completed while the thread is open and muted: no notification', async () => {
      const user = await newUser('cat');
      const thread = await newThread(user, 'Muted and open', true);
      const viewer = await socketOn(0, user.api.token);
      expect((await openThread(viewer, thread)).ok).toBe(true);
      const streamId = await send(user, thread, 'hi [sim tokens=10 rate=1000]');
      await nextEvent(viewer, 'stream.completed', (e) => e.streamId === streamId);
      await expectNoNotification(user, streamId, 'skipped_open');
    });

    it('completed while the thread is muted and not open: no notification', async () => {
      const user = await newUser('dan');
      const thread = await newThread(user, 'Muted', true);
      const streamId = await send(user, thread, 'quiet please [sim tokens=10 rate=1000]');
      await expectNoNotification(user, streamId, 'skipped_muted');
    });

    it.each([
      ['not muted', false],
      ['muted', true],
    ])('failed for good while the thread is not open (%s): system.warning with a readable reason', async (_label, muted) => {
      const user = await newUser('eve');
      const thread = await newThread(user, 'Doomed', muted);
      const streamId = await send(user, thread, 'break [sim fail=unrecoverable]');
      const pushed = await user.inbox.waitFor(streamId);
      expect(pushed).toMatchObject({ type: 'system.warning', threadId: thread, streamId, title: 'Doomed', readAt: null });
      expect(pushed.body).toBe('The answer could not be completed: Simulated unrecoverable provider failure');
      expect(pushed.body).not.toMatch(/\bat \S+:\d+|Error:|\n/);
      expect(await notificationsOf(user)).toEqual([pushed]);
      expect((await streamState(user, streamId)).status).toBe('failed');
    });

    it('failed after its retries ran out while the thread is not open: one system.warning', async () => {
      const user = await newUser('fay');
      const thread = await newThread(user, 'Flaky');
      const streamId = await send(user, thread, 'keeps failing [sim tokens=10 rate=1000 fail=transient at=2 times=9]');
      const pushed = await expectExactlyOne(user, streamId);
      expect(pushed).toMatchObject({ type: 'system.warning', streamId, title: 'Flaky' });
      expect(pushed.body.startsWith('The answer could not be completed: ')).toBe(true);
      expect(await streamState(user, streamId)).toMatchObject({ status: 'failed', attempt: 3 });
    });

    it('failed while the thread is open: no notification', async () => {
      const user = await newUser('gus');
      const thread = await newThread(user, 'Failing in view');
      const viewer = await socketOn(1, user.api.token);
      expect((await openThread(viewer, thread)).ok).toBe(true);
      const streamId = await send(user, thread, 'break [sim fail=unrecoverable]');
      const failed = await nextEvent(viewer, 'stream.failed', (e) => e.streamId === streamId);
      expect(failed.error.code).toBe('simulated_unrecoverable');
      await expectNoNotification(user, streamId, 'skipped_open');
    });

    it.each([
      ['not open', false],
      ['open', true],
    ])('cancelled while the thread is %s: no notification', async (_label, open) => {
      const user = await newUser('hal');
      const thread = await newThread(user, 'Cancelled');
      const viewer = await socketOn(0, user.api.token);
      expect((await openThread(viewer, thread)).ok).toBe(true);
      const streamId = await send(user, thread, 'never mind [sim hang at=3 rate=1000]');
      await nextEvent(viewer, 'stream.delta', (e) => e.streamId === streamId);
      if (!open) expect((await closeThread(viewer, thread)).ok).toBe(true);
      expect((await user.api.post(`/api/streams/${streamId}/cancel`)).status).toBe(202);
      await expectNoNotification(user, streamId, 'skipped_cancelled');
      expect((await streamState(user, streamId)).status).toBe('cancelled');
    });
    it('retried after a transient error, then successful: one ai.message.received and no warning', async () => {
      const user = await newUser('ivy');
      const thread = await newThread(user, 'Second try');
      const content = 'wobbly [sim tokens=30 rate=1000 fail=transient at=5 times=1]';
      const streamId = await send(user, thread, content);
      const pushed = await expectExactlyOne(user, streamId);
      expect(pushed).toMatchObject({ type: 'ai.message.received', streamId, title: 'Second try' });
      expect(await streamState(user, streamId)).toMatchObject({ status: 'completed', attempt: 2, content: simulatedAnswer(content, 30).join('') });
      expect(user.inbox.received.filter((n) => n.type === 'system.warning')).toEqual([]);
    });
  });

  describe('presence', () => {
    it('open in one tab of two, closed there just before completion: both tabs get the notification', async () => {
      const user = await newUser('jay');
      const [thread, other] = [await newThread(user, 'Closing soon'), await newThread(user, 'Other')];
      const tab1 = await socketOn(0, user.api.token);
      const tab2 = await socketOn(1, user.api.token);
      const [inbox1, inbox2] = [new Inbox(tab1), new Inbox(tab2)];
      expect((await openThread(tab1, thread)).ok).toBe(true);
      expect((await openThread(tab2, other)).ok).toBe(true);
      // About 2 s of answer: close with a few hundred ms to go.
      let tokensSeen = 0;
      tab1.on('stream.delta', (e) => e.threadId === thread && (tokensSeen += e.text.trim().split(/\s+/).length));
      const streamId = await send(user, thread, 'slow one [sim tokens=60 rate=30]');
      await nextEvent(tab1, 'stream.delta', () => tokensSeen >= 45);
      expect((await closeThread(tab1, thread)).ok).toBe(true);
      expect((await streamState(user, streamId)).status).toBe('streaming');

      const [seen1, seen2] = await Promise.all([inbox1.waitFor(streamId), inbox2.waitFor(streamId)]);
      expect(seen1).toMatchObject({ type: 'ai.message.received', streamId, title: 'Closing soon' });
      expect(seen2).toEqual(seen1);
      expect(await decisionOf(streamId)).toBe('notified');
    });

    it('open in two tabs on two API instances, closed in one: still open, no notification', async () => {
      const user = await newUser('kit');
      const thread = await newThread(user, 'Two tabs');
      const tab1 = await socketOn(0, user.api.token);
      const tab2 = await socketOn(1, user.api.token);
      expect((await openThread(tab1, thread)).ok).toBe(true);
      expect((await openThread(tab2, thread)).ok).toBe(true);
      const streamId = await send(user, thread, 'both tabs [sim tokens=30 rate=150]');
      await nextEvent(tab1, 'stream.delta', (e) => e.streamId === streamId);
      expect((await closeThread(tab1, thread)).ok).toBe(true);
      await nextEvent(tab2, 'stream.completed', (e) => e.streamId === streamId);
      await expectNoNotification(user, streamId, 'skipped_open');
    });

    it('the only tab disconnecting before completion counts as closing the thread', async () => {
      const user = await newUser('lee');
      const thread = await newThread(user, 'Gone away');
      const tab = await socketOn(1, user.api.token);
      expect((await openThread(tab, thread)).ok).toBe(true);
      const streamId = await send(user, thread, 'bye [sim tokens=60 rate=60]');
      await nextEvent(tab, 'stream.delta', (e) => e.streamId === streamId);
      tab.disconnect();
      expect((await user.inbox.waitFor(streamId)).type).toBe('ai.message.received');
    });

    it('a thread opened and closed at once (a quick switch) ends closed: no frames, and the completion notifies', async () => {
      const user = await newUser('mo');
      const thread = await newThread(user, 'Quick switch');
      const tab = await socketOn(0, user.api.token);
      const frames: number[] = [];
      tab.on('stream.delta', (e) => e.threadId === thread && frames.push(e.seq));
      // Emitted back to back, as a client switching threads quickly does; the close came last.
      const [opened, closed] = await Promise.all([openThread(tab, thread), closeThread(tab, thread)]);
      expect(opened.ok).toBe(true);
      expect(closed.ok).toBe(true);
      const streamId = await send(user, thread, 'switch [sim tokens=20 rate=1000]');
      expect((await user.inbox.waitFor(streamId)).type).toBe('ai.message.received');
      expect(frames).toEqual([]);
    });

    it('a tab that disconnects while its thread.open is in flight leaves no presence behind', async () => {
      const user = await newUser('ned');
      const thread = await newThread(user, 'Dropped');
      const tab = await socketOn(1, user.api.token);
      // Hold the open at its ownership check (Postgres) until the socket is gone.
      const blocker = new Client({ connectionString: system.db.url });
      await blocker.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE threads IN ACCESS EXCLUSIVE MODE');
        tab.emit('thread.open', { threadId: thread }, () => undefined);
        await eventually(async () => {
          const { rows } = await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
          return rows[0].n > 0 ? true : undefined;
        }, 'thread.open waiting on Postgres');
        tab.disconnect();
        // The same instance has accepted a new connection, so it has read the older one's close.
        await socketOn(1, user.api.token);
      } finally {
        await blocker.query('COMMIT');
        await blocker.end();
      }
      const streamId = await send(user, thread, 'dropped [sim tokens=20 rate=1000]');
      expect((await user.inbox.waitFor(streamId)).type).toBe('ai.message.received');
    });

    it('an API instance killed while the thread was open: its presence expires and the completion notifies', async () => {
      const user = await newUser('oli');
      const doomed = await system.addApi();
      const tab = await connectSocket(system.url(system.apis.indexOf(doomed)), user.api.token);
      const thread = await newThread(user, 'Crash');
      expect((await openThread(tab, thread)).ok).toBe(true);
      // About 6 s of generation: twice the presence TTL after the kill.
      const streamId = await send(user, thread, 'outlive the api [sim tokens=60 rate=10]');
      await nextEvent(tab, 'stream.delta', (e) => e.streamId === streamId);
      await doomed.kill();
      tab.disconnect();
      expect((await streamState(user, streamId)).status).toBe('streaming');
      const pushed = await user.inbox.waitFor(streamId, 20_000);
      expect(pushed).toMatchObject({ type: 'ai.message.received', streamId, title: 'Crash' });
      expect(await decisionOf(streamId)).toBe('notified');
    });
  });

  describe('REST', () => {
    it('lists newest first, filters unread, pages by cursor, marks one and all read; another user\'s is not found', async () => {
      const [user, other] = [await newUser('pia'), await newUser('quin')];
      const streams: string[] = [];
      for (let i = 0; i < 5; i++) streams.push(await send(user, await newThread(user, `Thread ${i}`), `note ${i} [sim tokens=3 rate=1000]`));
      const theirStream = await send(other, await newThread(other, 'Theirs'), 'theirs [sim tokens=3 rate=1000]');
      await Promise.all(streams.map((s) => user.inbox.waitFor(s)));
      const theirs = await other.inbox.waitFor(theirStream);

      const all = await notificationsOf(user);
      expect(all.map((n) => n.streamId).sort()).toEqual([...streams].sort());
      const newestFirst = [...all].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
      expect(all.map((n) => n.id)).toEqual(newestFirst.map((n) => n.id));

      const paged: Notification[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: HttpAnswer<{ items: Notification[]; nextCursor: string | null }> = await user.api.get(`/api/notifications?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        paged.push(...res.body.items);
        cursor = res.body.nextCursor;
        pages++;
      } while (cursor);
      expect(paged).toEqual(all);
      expect(pages).toBe(3);

      const [one, notMine] = [all[2], all[3]];
      expect((await user.api.post(`/api/notifications/${one.id}/read`)).status).toBe(204);
      expect((await user.api.post(`/api/notifications/${one.id}/read`)).status).toBe(204);
      expect((await notificationsOf(user, '?unread=true')).map((n) => n.id)).toEqual(all.filter((n) => n !== one).map((n) => n.id));
      expect((await notificationsOf(user)).find((n) => n.id === one.id)?.readAt).toEqual(expect.any(String));

      // Another user's notification is answered exactly like a missing one, and stays unread.
      const foreign = await other.api.post(`/api/notifications/${notMine.id}/read`);
      expect(foreign.status).toBe(404);
      expect(foreign.body.error.code).toBe('not_found');
      const missing = await user.api.post(`/api/notifications/${randomUUID()}/read`);
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('not_found');
      expect((await notificationsOf(user, '?unread=true')).map((n) => n.id)).toContain(notMine.id);
      expect(await notificationsOf(other)).toEqual([theirs]);
      expect((await user.api.post('/api/notifications/not-an-id/read')).body.error.code).toBe('invalid_request');
      expect((await user.api.get('/api/notifications?cursor=bogus')).status).toBe(400);

      expect((await user.api.post('/api/notifications/read-all')).status).toBe(204);
      expect(await notificationsOf(user, '?unread=true')).toEqual([]);
      expect((await notificationsOf(user)).every((n) => n.readAt !== null)).toBe(true);
      expect(await notificationsOf(other, '?unread=true')).toEqual([theirs]);
    });
  });
});
