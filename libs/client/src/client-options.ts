import { DEFAULT_RETRY_DELAYS, type RetryDelays } from './backoff';
import { defaultScheduler, type FrameScheduler } from './frame-scheduler';
import type { SocketTransports } from './socket-connection';
import type { TokenSource } from './tokens';

/** Where the API is, who the user is, and the knobs a UI or a test may turn. */
export interface ChatClientOptions {
  /** The API's origin, e.g. `http://localhost:3000`; `''` for the page's own origin. */
  baseUrl: string;
  /**
   * The user's bearer token (JWT), or a function that returns one (sync or async). A
   * function is called for every REST request and every socket (re)connection, with
   * `{ refresh: true }` after the server refused the previous token or expired the session.
   */
  token: TokenSource;
  /** When UI updates run; default: once per animation frame in a browser, every 16 ms in Node. */
  scheduler?: FrameScheduler;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Where socket.io listens, if not at `baseUrl`. */
  socketUrl?: string;
  /**
   * `auto` (default): WebSocket, falling back to HTTP long-polling when it cannot be
   * opened (a proxy that refuses upgrades; several API instances then need sticky
   * sessions). `websocket-only`: never poll.
   */
  transports?: SocketTransports;
  /** Fallback poll cadence of a viewed thread that gets no live updates (default 2000 ms). */
  pollIntervalMs?: number;
  /** First socket.io reconnection delay after a lost connection (default 1000 ms, up to 5×). */
  reconnectDelayMs?: number;
  /** How long a `thread.open`, or a socket connection, waits for the server's answer (default 10 s). */
  ackTimeoutMs?: number;
  /**
   * Backoff of the client's own retries: a connection the server refused for now
   * (`unavailable`, `internal`, no answer), a `thread.open` likewise, a failed history
   * read. Doubles from `min` to `max` with ±25 % jitter (default 500 ms to 10 s).
   */
  retryDelayMs?: { min?: number; max?: number };
  /** Messages read when a thread opens (default 50). */
  historyLimit?: number;
  /** Failures nobody awaits (a background read, a listener that threw, a refused connection). Default: `console.warn`. */
  onError?: (err: unknown, context: Record<string, unknown>) => void;
}

/** The options with the defaults named above filled in (kept here, next to their docs). */
export function withDefaults(options: ChatClientOptions) {
  const retryDelays: RetryDelays = { minMs: options.retryDelayMs?.min ?? DEFAULT_RETRY_DELAYS.minMs, maxMs: options.retryDelayMs?.max ?? DEFAULT_RETRY_DELAYS.maxMs };
  return {
    baseUrl: options.baseUrl,
    token: options.token,
    fetch: options.fetch,
    scheduler: options.scheduler ?? defaultScheduler(),
    socketUrl: options.socketUrl ?? options.baseUrl,
    transports: options.transports ?? 'auto',
    pollIntervalMs: options.pollIntervalMs ?? 2_000,
    reconnectDelayMs: options.reconnectDelayMs ?? 1_000,
    ackTimeoutMs: options.ackTimeoutMs ?? 10_000,
    retryDelays,
    historyLimit: options.historyLimit ?? 50,
    report: options.onError ?? ((err: unknown, context: Record<string, unknown>) => console.warn('chat client:', context, err)),
  };
}
