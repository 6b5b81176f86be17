// The demo chat page (served at `/`, bundled by scripts/build.mjs into dist/demo/chat.js):
// a thread list, the open thread with its live answer, a composer with a stop button,
// and notifications, all on libs/client. Switching threads only closes the view: the
// answer keeps going on the server and shows its latest state when the thread reopens.
import { ChatApiError, createChatClient, type ChatClient, type ConnectionStatus, type Notification, type Thread, type ThreadView, type ThreadViewState } from '@bgs/client';
import { byId, setText } from './dom.client';
import { MessagePane } from './message-pane.client';
import { NotificationCenter } from './notification-center.client';
import { Session } from './session.client';
import { connectionText, UNAVAILABLE_TEXT } from './status-text';
import { KEPT_NOTIFICATIONS, ThreadActivity } from './thread-activity';
import { ThreadList } from './thread-list.client';

const NEW_THREAD_TITLE = 'New chat';
const LISTED_THREADS = 50;

/** A thread's title from its first message: the words, without a `[sim …]` directive. */
function titleFrom(content: string): string {
  const words = content.replace(/\[sim[^\]]*\]/gi, ' ').replace(/\s+/g, ' ').trim();
  return (words || NEW_THREAD_TITLE).slice(0, 48);
}

function describe(err: unknown): string {
  if (err instanceof ChatApiError) return err.code === 'stream_in_progress' ? 'An answer is still being written in this thread.' : err.message;
  return (err as Error)?.message ?? String(err);
}

/** Wires the page's parts to one chat client; everything the user does goes through here. */
class ChatPage {
  private readonly activity = new ThreadActivity();
  private readonly threadList: ThreadList;
  private readonly pane: MessagePane;
  private readonly bell: NotificationCenter;
  private view: ThreadView | null = null;
  private viewStreaming: boolean | null = null;
  private listReads = 0;
  private wasDown = false;
  private readonly offs: Array<() => void> = [];

  constructor(
    private readonly client: ChatClient,
    session: Session,
  ) {
    this.threadList = new ThreadList(byId<HTMLUListElement>('thread-list'), {
      open: (threadId) => this.open(threadId),
      setMuted: (threadId, muted) => void this.setMuted(threadId, muted),
    });
    this.pane = new MessagePane({
      send: (content) => void this.send(content),
      stop: (streamId) => void this.stop(streamId),
    });
    this.bell = new NotificationCenter({
      openThread: (threadId) => this.open(threadId),
      readAll: () => void this.readAll(),
    });
    byId('new-thread').addEventListener('click', () => void this.newThread());
    setText(byId('user'), session.userId ? `Signed in as ${session.userId}` : 'Signed in with a token');
  }

  /** Shows the threads and notifications, then opens the thread named in the URL (or the latest). */
  async start(threads: Thread[]): Promise<void> {
    this.offs.push(this.client.onConnectionChange((s) => this.showConnection(s)));
    this.offs.push(this.client.notifications.onNotification((n) => this.notified(n)));
    // Deleted here or in another tab: the list drops it; an open view of it says so itself.
    this.offs.push(this.client.threads.onDeleted(() => void this.refreshThreads()));
    this.showConnection(this.client.connection());
    this.activity.listed(threads);
    this.activity.notificationsLoaded((await this.client.notifications.list({ limit: KEPT_NOTIFICATIONS })).items);
    const wanted = decodeURIComponent(location.hash.slice(1));
    const first = threads.find((t) => t.id === wanted) ?? threads[0];
    if (first) this.open(first.id);
    else this.pane.showThread(null);
    this.renderNotifications();
  }

  /** Shows a thread. The one left keeps generating; its view is only closed. */
  open(threadId: string): void {
    if (this.activity.selected === threadId) return;
    this.view?.close();
    this.activity.select(threadId);
    this.pane.showThread(this.activity.thread(threadId)?.title ?? '…');
    history.replaceState(null, '', `#${encodeURIComponent(threadId)}`);
    const view = this.client.openThread(threadId);
    this.view = view;
    this.viewStreaming = null;
    // What the client kept of a thread left earlier can be older than the server's (an
    // answer that ended meanwhile): show the thread once its history and live state are
    // in, so a finished answer appears whole and a running one carries on from where it is.
    void view.ready.then(() => {
      if (this.view === view) view.subscribe((state) => this.rendered(threadId, state));
    });
    this.readNotificationsOf(threadId);
    this.renderThreads();
    // A thread left earlier may have finished meanwhile without telling us (a muted one).
    void this.refreshThreads();
  }

  close(): void {
    this.view?.close();
    this.bell.close();
    for (const off of this.offs.splice(0)) off();
    this.client.close();
  }

  private rendered(threadId: string, state: ThreadViewState): void {
    this.pane.render(state);
    if (state.streaming === this.viewStreaming) return;
    const ended = this.viewStreaming === true;
    this.viewStreaming = state.streaming;
    this.activity.viewed(threadId, state.streaming);
    this.renderThreads();
    if (ended) void this.refreshThreads(); // the thread moved up the list
  }

  private async send(content: string): Promise<void> {
    const threadId = this.activity.selected;
    if (!threadId) return;
    this.activity.sent(threadId);
    this.renderThreads();
    try {
      await this.client.send(threadId, content);
      const thread = this.activity.thread(threadId);
      if (thread?.title === NEW_THREAD_TITLE) await this.rename(threadId, titleFrom(content));
    } catch (err) {
      this.pane.setProblem(describe(err));
    }
    // The list read says whether an answer runs there after all (a 409 means one does).
    await this.refreshThreads();
  }

  private async stop(streamId: string): Promise<void> {
    try {
      await this.client.cancel(streamId);
    } catch (err) {
      this.pane.setProblem(`Could not stop: ${describe(err)}`);
    }
  }

  private async newThread(): Promise<void> {
    try {
      const thread = await this.client.threads.create({ title: NEW_THREAD_TITLE });
      this.activity.upserted(thread);
      this.open(thread.id);
      byId('message-input').focus();
    } catch (err) {
      this.pane.setProblem(`Could not create a thread: ${describe(err)}`);
    }
  }

  private async rename(threadId: string, title: string): Promise<void> {
    const thread = await this.client.threads.patch(threadId, { title });
    this.activity.upserted(thread);
    if (this.activity.selected === threadId) this.pane.rename(thread.title);
    this.renderThreads();
  }

  private async setMuted(threadId: string, muted: boolean): Promise<void> {
    try {
      this.activity.upserted(await this.client.threads.patch(threadId, { muted }));
      this.renderThreads();
    } catch (err) {
      this.pane.setProblem(`Could not ${muted ? 'mute' : 'unmute'} the thread: ${describe(err)}`);
    }
  }

  /** `notification.created`: an answer ended in a thread nobody had open. */
  private notified(n: Notification): void {
    if (!this.activity.notified(n)) return;
    // Opened just as it ended: the user is looking at it already.
    if (n.threadId === this.activity.selected) this.readNotificationsOf(n.threadId);
    else this.bell.toast(n);
    this.renderNotifications();
    void this.refreshThreads();
  }

  private readNotificationsOf(threadId: string): void {
    const ids = this.activity.readThread(threadId, new Date().toISOString());
    if (ids.length === 0) return;
    this.renderNotifications();
    for (const id of ids) this.client.notifications.markRead(id).catch((err: unknown) => console.warn('mark read failed', id, err));
  }

  private async readAll(): Promise<void> {
    this.activity.readAll(new Date().toISOString());
    this.renderNotifications();
    try {
      await this.client.notifications.readAll();
    } catch (err) {
      console.warn('mark all read failed', err);
    }
  }

  /** Re-reads the list (order, titles, which threads are answering); only the latest read is applied. */
  private async refreshThreads(): Promise<void> {
    const read = ++this.listReads;
    try {
      const page = await this.client.threads.list({ limit: LISTED_THREADS });
      if (read !== this.listReads) return;
      this.activity.listed(page.items);
      this.renderThreads();
    } catch (err) {
      console.warn('thread list read failed', err);
    }
  }

  private renderThreads(): void {
    this.threadList.render(this.activity.rows());
  }

  /** The bell and the list, and the thread rows (their unread badges). */
  private renderNotifications(): void {
    this.bell.render(this.activity.notifications, this.activity.unreadCount);
    this.renderThreads();
  }

  private showConnection(status: ConnectionStatus): void {
    const el = byId('connection');
    setText(el, connectionText(status, this.client.connectionProblem()));
    el.dataset.status = status;
    if (status === 'reconnecting' || status === 'offline') this.wasDown = true;
    if (status === 'connected' && this.wasDown) {
      this.wasDown = false;
      void this.catchUp();
    }
  }

  /** Back after the socket was down: notifications pushed meanwhile were missed, the server kept them. */
  private async catchUp(): Promise<void> {
    try {
      this.activity.notificationsLoaded((await this.client.notifications.list({ limit: KEPT_NOTIFICATIONS })).items);
      // Without the socket the open thread lost its presence, so its answer may have notified: it is in view.
      if (this.activity.selected) this.readNotificationsOf(this.activity.selected);
      this.renderNotifications();
    } catch (err) {
      console.warn('notification read failed', err);
    }
    await this.refreshThreads();
  }
}

/**
 * A client whose token the API accepts, with the first page of threads. The token is
 * asked for when the client first needs it (after it found the API), so a page on a
 * host without the API says so instead of asking anyone to sign in. A pasted token
 * refused even after asking again is asked for once more, with a new client.
 */
async function connect(session: Session): Promise<{ client: ChatClient; threads: Thread[] }> {
  for (;;) {
    const client = await createChatClient({ baseUrl: '', token: session.token });
    if (client.mode === 'unavailable') return { client, threads: [] };
    try {
      const threads = await client.threads.list({ limit: LISTED_THREADS });
      return { client, threads: threads.items };
    } catch (err) {
      client.close();
      if (err instanceof ChatApiError && err.status === 401 && session.userId === null) {
        session.signOut();
        continue;
      }
      throw err;
    }
  }
}

/** No chat API behind this page (a static host): say so; nothing else runs. */
function showUnavailable(client: ChatClient): void {
  const connection = byId('connection');
  setText(connection, 'No chat server');
  connection.dataset.status = 'unavailable';
  setText(byId('thread-title'), 'Chat unavailable');
  const problem = byId('pane-problem');
  problem.textContent = UNAVAILABLE_TEXT;
  problem.hidden = false;
  byId<HTMLButtonElement>('new-thread').disabled = true;
  console.info('chat client:', client.connectionProblem()?.message);
}

async function boot(): Promise<void> {
  const session = new Session();
  const { client, threads } = await connect(session);
  if (client.mode === 'unavailable') return showUnavailable(client);
  const page = new ChatPage(client, session);
  window.addEventListener('pagehide', () => page.close(), { once: true });
  await page.start(threads);
}

boot().catch((err: unknown) => {
  const problem = byId('pane-problem');
  problem.textContent = `The chat could not start: ${describe(err)}`;
  problem.hidden = false;
  console.error(err);
});
