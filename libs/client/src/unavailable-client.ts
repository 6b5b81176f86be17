import type { ChatClient, ClientStats } from './chat-client';
import { ChatApiError } from './http-api';

/**
 * The client when no chat API answers at `baseUrl` (a static host, an HTML fallback,
 * nothing listening): no socket, no timer, no request. Every call rejects (throws, for
 * `openThread`) with `ChatApiError` `unavailable`, so the page can keep its own
 * client-side streaming.
 */
export function unavailableClient(cause: ChatApiError): ChatClient {
  const problem = { code: 'unavailable', message: cause.message };
  const refuse = (): never => {
    throw new ChatApiError('unavailable', `the chat API is not available: ${cause.message}`, cause.status);
  };
  const rejected = async (): Promise<never> => refuse();
  const stats: ClientStats = {
    socketListeners: 0,
    subscriptions: 0,
    openViews: 0,
    viewedThreads: 0,
    joinedThreads: 0,
    timers: 0,
    pollRounds: 0,
    pendingRequests: 0,
    liveResponses: 0,
    cachedThreads: 0,
    notificationListeners: 0,
  };
  return {
    capabilities: null,
    mode: 'unavailable',
    threads: { list: rejected, create: rejected, get: rejected, patch: rejected, delete: rejected, onDeleted: () => () => undefined },
    openThread: refuse,
    send: rejected,
    cancel: rejected,
    notifications: { list: rejected, markRead: rejected, readAll: rejected, onNotification: () => () => undefined },
    connection: () => 'none',
    connectionProblem: () => problem,
    onConnectionChange: () => () => undefined,
    flush: () => undefined,
    stats: () => ({ ...stats }),
    close: () => undefined,
  };
}
