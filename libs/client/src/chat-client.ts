import type { Capabilities, Notification, Page, SendMessageResult, Thread } from '@bgs/shared/browser';
import type { Problem } from './backoff';
import { withDefaults, type ChatClientOptions } from './client-options';
import { DirectTransport } from './direct-transport';
import { HistoryLoader } from './history-loader';
import { ChatApiError, HttpApi } from './http-api';
import { oncePerKey } from './once-per-key';
import { RealtimeTransport } from './realtime-transport';
import { ThreadStore } from './thread-store';
import { createThreadView, type ThreadView } from './thread-view';
import { Tokens } from './tokens';
import type { ConnectionStatus, SendOptions, Transport, TransportContext } from './transport';
import { unavailableClient } from './unavailable-client';

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
  /** Timers of the client's own: the fallback poll, retries, the connection answer timeout, the scheduled UI update. */
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

/**
 * `background` (REST + socket.io), `direct` (answers stream in the send response), or
 * `unavailable`: no chat API answers at `baseUrl` (a static host), so the client does
 * nothing and every call rejects with `ChatApiError` `unavailable`.
 */
export type ChatClientMode = 'background' | 'direct' | 'unavailable';

/** What a chat page uses: threads, views of them, sending, notifications. */
export interface ChatClient {
  /** What the API said at start-up: decides the transport; null when no API answered. */
  readonly capabilities: Capabilities | null;
  readonly mode: ChatClientMode;
  readonly threads: {
    list(query?: { limit?: number; cursor?: string }): Promise<Page<Thread>>;
    create(body?: { title?: string }): Promise<Thread>;
    get(threadId: string): Promise<Thread>;
    patch(threadId: string, body: { title?: string; muted?: boolean }): Promise<Thread>;
    /** Deletes the thread (its running answer is cancelled). */
    delete(threadId: string): Promise<void>;
    /** Calls `listener` when a thread is deleted, here or in another tab (background mode); returns the unsubscribe. */
    onDeleted(listener: (threadId: string) => void): () => void;
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
  /** `connected`, `reconnecting`… for a banner; `none` in direct mode and when unavailable. */
  connection(): ConnectionStatus;
  /** Why the connection is not up (`unavailable`, `timeout`, `unauthorized`…), or null. */
  connectionProblem(): Problem | null;
  onConnectionChange(listener: (status: ConnectionStatus) => void): () => void;
  /** Runs the pending UI update now. */
  flush(): void;
  stats(): ClientStats;
  /** Closes the socket, stops direct answer streams and timers, drops every listener. Idempotent. */
  close(): void;
}

/**
 * Connects a chat UI to the API: reads `/capabilities`, then uses the background
 * transport (REST + socket.io) or the direct one (SSE in the send response). When no
 * chat API answers there (a 404 page, HTML, no server), it resolves all the same, with
 * `mode: 'unavailable'`: nothing runs and every call rejects with `unavailable`.
 */
export async function createChatClient(given: ChatClientOptions): Promise<ChatClient> {
  const options = withDefaults(given);
  const { report, retryDelays } = options;
  const tokens = new Tokens(options.token);
  const api = new HttpApi({ baseUrl: options.baseUrl, token: tokens, ...(options.fetch ? { fetch: options.fetch } : {}) });
  let capabilities: Capabilities;
  try {
    capabilities = await api.capabilities();
  } catch (err) {
    report(err, { what: 'capabilities' });
    return unavailableClient(err instanceof ChatApiError ? err : new ChatApiError('unavailable', String(err), 0));
  }
  const store = new ThreadStore(options.scheduler, (err) => report(err, { what: 'thread listener' }));
  const views = new Map<string, { count: number; ready: Promise<void> }>();
  // Late-bound: the loader and the transport know of each other through these closures.
  let transport: Transport | null = null;
  const history = new HistoryLoader(api, store, {
    limit: options.historyLimit,
    retryDelays,
    viewed: (threadId) => views.has(threadId),
    loaded: (threadId) => transport?.threadChanged(threadId),
  });
  const notificationListeners = new Set<(n: Notification) => void>();
  const statusListeners = new Set<(s: ConnectionStatus) => void>();
  const deletedListeners = new Set<(threadId: string) => void>();
  /** A deletion heard twice, from here and from the server, is told once. */
  const threadDeleted = oncePerKey((threadId: string) => threadId, (threadId) => {
    history.cancel(threadId);
    store.deleted(threadId, views.has(threadId));
    transport?.forget(threadId);
    deletedListeners.forEach((l) => call(l, threadId));
  });
  // A notification is pushed at least once (docs/protocol.md#notifications): listeners hear it once.
  const notification = oncePerKey((n: Notification) => n.id, (n) => notificationListeners.forEach((l) => call(l, n)));
  const ctx: TransportContext = {
    api,
    store,
    refreshHistory: (threadId) => void history.load(threadId),
    notification,
    statusChanged: (s) => statusListeners.forEach((l) => call(l, s)),
    threadDeleted,
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
  const live: Transport = background
    ? new RealtimeTransport(ctx, {
        url: options.socketUrl,
        tokens,
        pollIntervalMs: options.pollIntervalMs,
        reconnectDelayMs: options.reconnectDelayMs,
        ackTimeoutMs: options.ackTimeoutMs,
        retryDelays,
        transports: options.transports,
      })
    : new DirectTransport(ctx);
  transport = live;

  let openViews = 0;
  let localSeq = 0;
  let closed = false;

  return {
    capabilities,
    mode: background ? 'background' : 'direct',
    threads: {
      list: (q) => api.listThreads(q),
      create: async (body) => {
        const thread = await api.createThread(body);
        threadDeleted.forget(thread.id);
        return thread;
      },
      get: (id) => api.getThread(id),
      patch: (id, body) => api.patchThread(id, body),
      delete: async (id) => {
        await api.deleteThread(id);
        threadDeleted(id);
      },
      onDeleted(listener) {
        deletedListeners.add(listener);
        return () => void deletedListeners.delete(listener);
      },
    },

    openThread(threadId) {
      if (closed) throw new ChatApiError('closed', 'the chat client is closed', 0);
      store.ensure(threadId);
      let viewed = views.get(threadId);
      if (!viewed) {
        // Left earlier: an answer may have ended meanwhile, so the cached state is not shown as current.
        store.dispatch(threadId, { type: 'reopened' });
        threadDeleted.forget(threadId);
        // Registered before the reads start: a failed read is retried only while the thread is viewed.
        const entry = { count: 0, ready: Promise.resolve() };
        views.set(threadId, entry);
        entry.ready = Promise.all([history.load(threadId), live.watch(threadId)]).then(() => undefined);
        viewed = entry;
      }
      viewed.count++;
      openViews++;
      const entry = viewed;
      return createThreadView(store, threadId, entry.ready, () => {
        openViews--;
        if (--entry.count > 0 || views.get(threadId) !== entry) return;
        views.delete(threadId);
        history.cancel(threadId);
        live.unwatch(threadId);
      });
    },

    async send(threadId, content, sendOptions = {}) {
      if (closed) throw new ChatApiError('closed', 'the chat client is closed', 0);
      const text = content.trim();
      const localId = `local-${++localSeq}`;
      store.ensure(threadId);
      store.dispatch(threadId, { type: 'sending', pending: { localId, content: text, createdAt: new Date().toISOString() } });
      try {
        return await live.send(threadId, text, localId, sendOptions);
      } catch (err) {
        store.dispatch(threadId, { type: 'sendFailed', localId });
        throw err;
      }
    },

    cancel: (streamId) => live.cancel(streamId),

    notifications: {
      list: (q) => api.listNotifications(q),
      markRead: (id) => api.markNotificationRead(id),
      readAll: () => api.markAllNotificationsRead(),
      onNotification(listener) {
        notificationListeners.add(listener);
        return () => void notificationListeners.delete(listener);
      },
    },

    connection: () => live.status(),
    connectionProblem: () => live.problem(),
    onConnectionChange(listener) {
      statusListeners.add(listener);
      return () => void statusListeners.delete(listener);
    },

    flush: () => store.flush(),

    stats() {
      const t = live.counts();
      return {
        socketListeners: t.socketListeners,
        subscriptions: store.subscriptions,
        openViews,
        viewedThreads: views.size,
        joinedThreads: t.joinedThreads,
        timers: t.timers + store.scheduled + history.timers,
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
      live.close();
      history.close();
      store.close();
      notificationListeners.clear();
      statusListeners.clear();
      deletedListeners.clear();
    },
  };
}
