import { io, type Socket } from 'socket.io-client';
import { EVENTS, type ClientToServerEvents, type ServerToClientEvents } from '@bgs/shared/browser';
import { isPermanentRefusal, retryDelay, type Problem, type RetryDelays } from './backoff';
import { ChatApiError } from './http-api';
import type { RoomChannel } from './thread-rooms';
import type { Tokens } from './tokens';
import type { ConnectionStatus } from './transport';

/**
 * Which socket.io transports to use. `auto`: WebSocket first and, when the WebSocket
 * cannot be opened (a proxy that refuses upgrades), HTTP long-polling, upgraded to
 * WebSocket later if it becomes possible. `websocket-only`: never poll.
 */
export type SocketTransports = 'auto' | 'websocket-only';

/** The socket's settings (see `ChatClientOptions`). */
export interface ConnectionOptions {
  url: string;
  tokens: Tokens;
  reconnectDelayMs: number;
  ackTimeoutMs: number;
  retryDelays: RetryDelays;
  transports: SocketTransports;
}

/** What the connection tells the transport that owns it. */
export interface ConnectionEvents {
  /** The socket connected; `again` when it had been connected before (frames sent while it was down are gone). */
  up(again: boolean): void;
  /** The socket is not connected (`reconnecting` or `offline`): the server holds no room of it. */
  down(): void;
  /** The server refused the socket for good (heard after `down`): nothing more is tried. */
  refused(problem: Problem): void;
  statusChanged(status: ConnectionStatus): void;
  report(err: unknown, context: Record<string, unknown>): void;
}

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const SOCKET_EVENTS = ['connect', 'disconnect', 'connect_error', ...Object.values(EVENTS)] as const;
type SocketEvent = (typeof SOCKET_EVENTS)[number];

/**
 * Background mode's one socket.io connection, and what keeps it up. socket.io retries a
 * lost connection by itself, but not one the server refused (its middleware answered
 * `connect_error`), nor one it never answered. This does: a refusal worth retrying
 * (`unavailable`, `internal`, no answer within `ackTimeoutMs`) is tried again after a
 * capped backoff with jitter; `unauthorized` asks the token function for a fresh token
 * once; any other refusal is final: the status goes `offline`, the owner hears
 * `refused` and `onError` hears it.
 */
export class SocketConnection {
  private readonly socket: ClientSocket;
  /** `thread.open` and `thread.close` with their acks, for the thread rooms. */
  readonly channel: RoomChannel;
  private readonly handlers: Array<[string, (...args: any[]) => void]> = [];
  private current: ConnectionStatus = 'connecting';
  private connectedBefore = false;
  private closed = false;
  /** The next connection attempt after a refusal (socket.io does not make one itself). */
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retries = 0;
  /** Running from the CONNECT packet to the server's answer. */
  private answerTimer: ReturnType<typeof setTimeout> | null = null;
  /** Ask the token function for a fresh token at the next connection (after `session.expired` or an `unauthorized` refusal). */
  private freshToken = false;
  /** An `unauthorized` refusal already got its fresh token since the last successful connection. */
  private refreshedAfterRefusal = false;
  /** A permanent refusal: nothing is asked of the socket any more. */
  private refusal: Problem | null = null;
  /** Why the socket is not connected, while it is not. */
  private lastProblem: Problem | null = null;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly events: ConnectionEvents,
  ) {
    const websocketOnly = options.transports === 'websocket-only';
    this.socket = io(options.url, {
      // Called for every connection attempt, reconnections included: the token may have changed.
      auth: (send) => this.authenticate(send),
      transports: websocketOnly ? ['websocket'] : ['websocket', 'polling'],
      tryAllTransports: !websocketOnly,
      forceNew: true,
      reconnectionDelay: options.reconnectDelayMs,
      reconnectionDelayMax: options.reconnectDelayMs * 5,
    });
    const socket = this.socket;
    const timeout = options.ackTimeoutMs;
    this.channel = {
      get connected() {
        return socket.connected;
      },
      open: (threadId) => socket.timeout(timeout).emitWithAck(EVENTS.threadOpen, { threadId }),
      close: (threadId) => socket.timeout(timeout).emitWithAck(EVENTS.threadClose, { threadId }),
    };
    this.listen();
  }

  private listen(): void {
    this.on('connect', () => {
      this.clearAnswerTimer();
      this.retries = 0;
      this.refreshedAfterRefusal = false;
      this.lastProblem = null;
      this.setStatus('connected');
      const again = this.connectedBefore;
      this.connectedBefore = true;
      this.events.up(again);
    });
    this.on('disconnect', (reason: string) => {
      this.clearAnswerTimer();
      this.lastProblem = { code: 'disconnected', message: reason };
      this.down(this.closed ? 'offline' : 'reconnecting');
      // The server closed this socket on purpose (not a network failure): socket.io does not retry then.
      if (reason === 'io server disconnect' && !this.closed) this.socket.connect();
    });
    this.on('connect_error', (err: Error) => this.connectFailed(err));
    this.on(EVENTS.sessionExpired, () => {
      // The server disconnects this socket next: reconnect with a new token, not the expired one.
      this.freshToken = true;
    });
  }

  /** Listens to `event` until `close()` (which removes every listener added here). */
  on<E extends SocketEvent>(event: E, handler: E extends keyof ServerToClientEvents ? ServerToClientEvents[E] : (...args: any[]) => void): void {
    this.socket.on(event as never, handler as never);
    this.handlers.push([event, handler as (...args: any[]) => void]);
  }

  /** socket.io's `auth` callback: the token for this attempt, then the server's answer is awaited for `ackTimeoutMs`. */
  private authenticate(send: (data: object) => void): void {
    const fresh = this.freshToken;
    this.freshToken = false;
    this.options.tokens.get(fresh).then(
      (token) => {
        if (this.closed || this.refusal) return;
        this.armAnswerTimer();
        send({ token });
      },
      (err: unknown) => {
        if (this.closed || this.refusal) return;
        // Whatever hands out tokens did not answer: give up this attempt, try again later.
        this.events.report(err, { what: 'token for the socket' });
        this.socket.disconnect();
        this.retryConnect({ code: 'token_unavailable', message: (err as Error)?.message ?? String(err) });
      },
    );
  }

  /** No answer to the CONNECT packet (a middleware stuck on a frozen database): drop the attempt and try again. */
  private armAnswerTimer(): void {
    this.clearAnswerTimer();
    this.answerTimer = setTimeout(() => {
      this.answerTimer = null;
      if (this.closed || this.socket.connected) return;
      this.socket.disconnect();
      this.retryConnect({ code: 'timeout', message: `the server did not answer the connection within ${this.options.ackTimeoutMs} ms` });
    }, this.options.ackTimeoutMs);
  }

  private clearAnswerTimer(): void {
    if (this.answerTimer) clearTimeout(this.answerTimer);
    this.answerTimer = null;
  }

  private connectFailed(err: Error): void {
    this.clearAnswerTimer();
    if (this.closed || this.refusal) return;
    // The connection itself failed (no server, a dropped network): socket.io retries it by itself.
    if (this.socket.active) {
      this.lastProblem = { code: 'network', message: err?.message ?? 'connection failed' };
      return this.down('reconnecting');
    }
    // The server refused this socket (its middleware's answer): socket.io gives up, this client does not.
    const code = err?.message || 'internal';
    if (code === 'unauthorized' && this.options.tokens.refreshable && !this.refreshedAfterRefusal) {
      this.refreshedAfterRefusal = true;
      this.freshToken = true;
      this.down('reconnecting');
      this.socket.connect();
      return;
    }
    if (isPermanentRefusal(code)) return this.giveUp({ code, message: `the server refused the connection (${code})` });
    this.retryConnect({ code, message: `the server refused the connection for now (${code})` });
  }

  private retryConnect(problem: Problem): void {
    this.lastProblem = problem;
    this.down('reconnecting');
    if (this.retryTimer || this.closed) return;
    const delay = retryDelay(this.retries++, this.options.retryDelays);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed && !this.refusal && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  private giveUp(problem: Problem): void {
    this.refusal = problem;
    this.lastProblem = problem;
    this.down('offline');
    this.events.refused(problem);
    this.events.report(new ChatApiError(problem.code, problem.message, 0), { what: 'socket connection' });
  }

  private down(status: ConnectionStatus): void {
    this.setStatus(status);
    this.events.down();
  }

  private setStatus(status: ConnectionStatus): void {
    if (status === this.current) return;
    this.current = status;
    this.events.statusChanged(status);
  }

  get status(): ConnectionStatus {
    return this.current;
  }

  /** Why the socket is not connected (null while it is). */
  get problem(): Problem | null {
    return this.current === 'connected' ? null : this.lastProblem;
  }

  /** The refusal that ended the connection for good, or null. */
  get refused(): Problem | null {
    return this.refusal;
  }

  /** Listeners on the socket: constant for the connection's life. */
  get listeners(): number {
    let n = 0;
    for (const event of SOCKET_EVENTS) n += this.socket.listeners(event as never).length;
    return n;
  }

  /** Its own timers pending: the next attempt after a refusal, the wait for the server's answer. */
  get timers(): number {
    return (this.retryTimer ? 1 : 0) + (this.answerTimer ? 1 : 0);
  }

  /** Removes every listener, disconnects, and stops retrying; the status goes `offline`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearAnswerTimer();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const [event, handler] of this.handlers) this.socket.off(event as never, handler as never);
    this.handlers.length = 0;
    this.socket.disconnect();
    this.setStatus('offline');
  }
}
