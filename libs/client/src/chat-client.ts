import type { Capabilities, Notification, Page, SendMessageResult, Thread } from '@bgs/shared/browser';
import { DirectTransport } from './direct-transport';
import { defaultScheduler, type FrameScheduler } from './frame-scheduler';
import { HistoryLoader } from './history-loader';
import { ChatApiError, HttpApi } from './http-api';
import { RealtimeTransport } from './realtime-transport';
import { ThreadStore } from './thread-store';
import { createThreadView, type ThreadView } from './thread-view';
import type { ConnectionStatus, SendOptions, Transport, TransportContext } from './transport';

/** Where the API is, who the user is, and the knobs a UI or a test may turn. */
export interface ChatClientOptions {
  /** The API's origin, e.g. `http://localhost:3000`; `''` for the page's own origin. */
  baseUrl: string;
  /** The user's bearer token (JWT). */
  token: string;
  /** When UI updates run; default: once per animation frame in a browser, every 16 ms in Node. */
  scheduler?: FrameScheduler;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Where socket.io listens, if not at `baseUrl`. */
  socketUrl?: string;
  /** Fallback poll cadence while the socket is down (default 2000 ms). */
  pollIntervalMs?: number;
  /** First socket.io reconnection delay (default 1000 ms). */
  reconnectDelayMs?: number;
  /** How long a `thread.open` waits for its ack (default 10 s). */
  ackTimeoutMs?: number;
  /** Messages read when a thread opens (default 50). */
  historyLimit?: number;
  /** Failures nobody awaits (a background read, a listener that threw). Default: `console.warn`. */
  onError?: (err: unknown, context: Record<string, unknown>) => void;
}

/** Counts a test (or a debug panel) reads to see that nothing grows with use. */
export interface ClientStats {
  /** Listeners on the socket: constant for the client's life (0 in direct mode). */
  socketListeners: number;
  /** View listeners across all threads. */
  subscriptions: number;
  openViews: number;
  /** Threads with at least one open view. */
  viewedThreads: number;
  /** Thread rooms the socket has joined on the server. */
  joinedThreads: number;
  /** Timers of the client's own: the fallback poll and the scheduled UI update. */
  timers: number;
  /** Fallback poll rounds run so far. */
  pollRounds: number;
  /** REST requests and direct answer streams in flight. */
  pendingRequests: number;
  /** Direct answer streams being read. */
  liveResponses: number;
  cachedThreads: number;
  notificationListeners: number;
}

/** What a chat page uses: threads, views of them, sending, notifications. */
export interface ChatClient {
  /** What the API said at start-up: decides the transport. */
  readonly capabilities: Capabilities;
  readonly mode: 'background' | 'direct';
  readonly threads: {
    list(query?: { limit?: number; cursor?: string }): Promise<Page<Thread>>;
    create(body?: { title?: string }): Promise<Thread>;
    get(threadId: string): Promise<Thread>;
    patch(threadId: string, body: { title?: string; muted?: boolean }): Promise<Thread>;
    /** Deletes the thread (its running answer is cancelled). */
    delete(threadId: string): Promise<void>;
  };
  /** Shows a thread: its history, then live updates while the view is open. */
  openThread(threadId: string): ThreadView;
  /**
   * Sends a message. The thread shows it at once (`sending`), then the stored pair; the
   * answer streams into the thread whether or not a view is open. Resolves with the ids
   * once the server has them; rejects with `ChatApiError` (409 `stream_in_progress`, 429…).
   */
  send(threadId: string, content: string, options?: SendOptions): Promise<SendMessageResult>;
  /** Stops a running answer; its partial text is kept as a cancelled message. */
  cancel(streamId: string): Promise<void>;
  readonly notifications: {
    list(query?: { unread?: boolean; limit?: number; cursor?: string }): Promise<Page<Notification>>;
    markRead(notificationId: string): Promise<void>;
    readAll(): Promise<void>;
    /** Calls `listener` for each new notification (background mode); returns the unsubscribe. */
    onNotification(listener: (n: Notification) => void): () => void;
  };
  /** `connected`, `reconnecting`… for a banner; `none` in direct mode. */
  connection(): ConnectionStatus;
  onConnectionChange(listener: (status: ConnectionStatus) => void): () => void;
  /** Runs the pending UI update now. */
  flush(): void;
  stats(): ClientStats;
  /** Closes the socket, stops direct answer streams and timers, drops every listener. Idempotent. */
  close(): void;
}

/**
 * Connects a chat UI to the API: reads `/capabilities`, then uses the background
 * transport (REST + socket.io) or the direct one (SSE in the send response).
 */
export async function createChatClient(options: ChatClientOptions): Promise<ChatClient> {
  const api = new HttpApi({ baseUrl: options.baseUrl, token: options.token, ...(options.fetch ? { fetch: options.fetch } : {}) });
  const capabilities = await api.capabilities();
  const report = options.onError ?? ((err: unknown, context: Record<string, unknown>) => console.warn('chat client:', context, err));
  const store = new ThreadStore(options.scheduler ?? defaultScheduler(), (err) => report(err, { what: 'thread listener' }));
  const history = new HistoryLoader(api, store, options.historyLimit ?? 50);
  const notificationListeners = new Set<(n: Notification) => void>();
  const statusListeners = new Set<(s: ConnectionStatus) => void>();
  const ctx: TransportContext = {
    api,
    store,
    refreshHistory: (threadId) => void history.load(threadId),
    notification: (n) => notificationListeners.forEach((l) => call(l, n)),
    statusChanged: (s) => statusListeners.forEach((l) => call(l, s)),
    report,
  };
  function call<T>(listener: (v: T) => void, value: T): void {
    try {
      listener(value);
    } catch (err) {
      report(err, { what: 'listener' });
    }
  }

  const background = capabilities.backgroundStreaming && capabilities.realtime === 'socket.io';
  const transport: Transport = background
    ? new RealtimeTransport(ctx, {
        url: options.socketUrl ?? options.baseUrl,
        token: options.token,
        pollIntervalMs: options.pollIntervalMs ?? 2_000,
        reconnectDelayMs: options.reconnectDelayMs ?? 1_000,
        ackTimeoutMs: options.ackTimeoutMs ?? 10_000,
      })
    : new DirectTransport(ctx);

  const views = new Map<string, { count: number; ready: Promise<void> }>();
  let openViews = 0;
  let localSeq = 0;
  let closed = false;

  return {
    capabilities,
    mode: background ? 'background' : 'direct',
    threads: {
      list: (q) => api.listThreads(q),
      create: (body) => api.createThread(body),
      get: (id) => api.getThread(id),
      patch: (id, body) => api.patchThread(id, body),
      delete: async (id) => {
        await api.deleteThread(id);
        store.forget(id);
      },
    },

    openThread(threadId) {
      if (closed) throw new ChatApiError('closed', 'the chat client is closed', 0);
      store.ensure(threadId);
      let viewed = views.get(threadId);
      if (!viewed) {
        // Left earlier: an answer may have ended meanwhile, so the cached state is not shown as current.
        store.dispatch(threadId, { type: 'reopened' });
        viewed = { count: 0, ready: Promise.all([history.load(threadId), transport.watch(threadId)]).then(() => undefined) };
        views.set(threadId, viewed);
      }
      viewed.count++;
      openViews++;
      const entry = viewed;
      return createThreadView(store, threadId, entry.ready, () => {
        openViews--;
        if (--entry.count > 0 || views.get(threadId) !== entry) return;
        views.delete(threadId);
        transport.unwatch(threadId);
      });
    },

    async send(threadId, content, sendOptions = {}) {
      if (closed) throw new ChatApiError('closed', 'the chat client is closed', 0);
      const text = content.trim();
      const localId = `local-${++localSeq}`;
      store.ensure(threadId);
      store.dispatch(threadId, { type: 'sending', pending: { localId, content: text, createdAt: new Date().toISOString() } });
      try {
        return await transport.send(threadId, text, localId, sendOptions);
      } catch (err) {
        store.dispatch(threadId, { type: 'sendFailed', localId });
        throw err;
      }
    },

    cancel: (streamId) => transport.cancel(streamId),

    notifications: {
      list: (q) => api.listNotifications(q),
      markRead: (id) => api.markNotificationRead(id),
      readAll: () => api.markAllNotificationsRead(),
      onNotification(listener) {
        notificationListeners.add(listener);
        return () => void notificationListeners.delete(listener);
      },
    },

    connection: () => transport.status(),
    onConnectionChange(listener) {
      statusListeners.add(listener);
      return () => void statusListeners.delete(listener);
    },

    flush: () => store.flush(),

    stats() {
      const t = transport.counts();
      return {
        socketListeners: t.socketListeners,
        subscriptions: store.subscriptions,
        openViews,
        viewedThreads: views.size,
        joinedThreads: t.joinedThreads,
        timers: t.timers + store.scheduled,
        pollRounds: t.pollRounds,
        pendingRequests: api.pending,
        liveResponses: t.liveResponses,
        cachedThreads: store.size,
        notificationListeners: notificationListeners.size,
      };
    },

    close() {
      if (closed) return;
      closed = true;
      transport.close();
      store.close();
      notificationListeners.clear();
      statusListeners.clear();
    },
  };
}
