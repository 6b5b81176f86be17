import { io, type Socket } from 'socket.io-client';
import {
  EVENTS,
  type ClientToServerEvents,
  type ServerToClientEvents,
  type SendMessageResult,
  type StreamSnapshot,
} from '@bgs/shared/browser';
import { isPermanentRefusal, retryDelay, type Problem, type RetryDelays } from './backoff';
import { FallbackPoller } from './fallback-poller';
import { ChatApiError } from './http-api';
import { activeStreamIds } from './thread-state';
import { ThreadRooms } from './thread-rooms';
import type { Tokens } from './tokens';
import type { ConnectionStatus, SendOptions, Transport, TransportContext, TransportCounts } from './transport';

/**
 * Which socket.io transports to use. `auto`: WebSocket first and, when the WebSocket
 * cannot be opened (a proxy that refuses upgrades), HTTP long-polling, upgraded to
 * WebSocket later if it becomes possible. `websocket-only`: never poll.
 */
export type SocketTransports = 'auto' | 'websocket-only';

/** The socket and fallback-poll settings (see `ChatClientOptions`). */
export interface RealtimeOptions {
  url: string;
  tokens: Tokens;
  pollIntervalMs: number;
  reconnectDelayMs: number;
  ackTimeoutMs: number;
  retryDelays: RetryDelays;
  transports: SocketTransports;
}

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const SOCKET_EVENTS = ['connect', 'disconnect', 'connect_error', ...Object.values(EVENTS)] as const;

/**
 * Background mode: sends over REST (202 at once), live updates over one socket.io
 * connection. Viewed threads are joined as rooms (`ThreadRooms`); their events go
 * into the store, where the resume rule reconciles them with snapshots. A viewed
 * thread that is not joined (the socket is down, or the server could not open it yet)
 * has its running streams polled instead.
 *
 * Connecting: socket.io retries a lost connection by itself, but not one the server
 * refused (its middleware answered `connect_error`), nor one it never answered. This
 * transport does: a refusal worth retrying (`unavailable`, `internal`, no answer within
 * `ackTimeoutMs`) is tried again after a capped backoff with jitter; `unauthorized`
 * asks the token function for a fresh token once; any other refusal is final: the
 * status goes `offline`, the viewed threads show the error and `onError` hears it.
 */
export class RealtimeTransport implements Transport {
  private readonly socket: ClientSocket;
  private readonly rooms: ThreadRooms;
  private readonly poller: FallbackPoller;
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
  private fatal: Problem | null = null;
  /** Why the socket is not connected, while it is not. */
  private lastProblem: Problem | null = null;

  constructor(
    private readonly ctx: TransportContext,
    private readonly options: RealtimeOptions,
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
    this.rooms = new ThreadRooms(
      {
        get connected() {
          return socket.connected;
        },
        open: (threadId) => socket.timeout(timeout).emitWithAck(EVENTS.threadOpen, { threadId }),
        close: (threadId) => socket.timeout(timeout).emitWithAck(EVENTS.threadClose, { threadId }),
      },
      {
        snapshot: (threadId, streams) => this.applySnapshots(threadId, streams),
        refused: (threadId, error) => ctx.store.dispatch(threadId, { type: 'error', error }),
        changed: (threadId) => this.linkChanged(threadId),
      },
      options.retryDelays,
    );
    this.poller = new FallbackPoller({
      intervalMs: options.pollIntervalMs,
      targets: () => {
        if (this.fatal || this.closed) return [];
        return [...this.rooms.viewed].flatMap((threadId) => {
          const link = this.rooms.link(threadId);
          if (link === 'live' || link === 'idle') return [];
          const state = ctx.store.state(threadId);
          return state && !state.deleted ? activeStreamIds(state) : [];
        });
      },
      poll: (streamId) => this.poll(streamId),
    });
    this.listen();
  }

  private listen(): void {
    const { store } = this.ctx;
    this.on('connect', () => {
      this.clearAnswerTimer();
      this.retries = 0;
      this.refreshedAfterRefusal = false;
      this.lastProblem = null;
      this.setStatus('connected');
      this.rooms.connected();
      // Frames sent while the socket was down are gone: the snapshots on rejoin cover the
      // latest stream, the history read covers whatever ended meanwhile.
      if (this.connectedBefore) for (const threadId of this.rooms.viewed) if (!store.state(threadId)?.deleted) this.ctx.refreshHistory(threadId);
      this.connectedBefore = true;
      this.poller.update();
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
    this.on(EVENTS.threadDeleted, (e) => this.ctx.threadDeleted(e.threadId));
    this.on(EVENTS.streamStarted, (e) => {
      store.dispatch(e.threadId, { type: 'started', streamId: e.streamId, messageId: e.messageId, attempt: e.attempt });
      // An answer to a message sent elsewhere (another tab): read the question too.
      const state = store.state(e.threadId);
      if (state && !state.records[e.messageId] && state.pending.length === 0) this.ctx.refreshHistory(e.threadId);
    });
    this.on(EVENTS.streamDelta, (e) => store.dispatch(e.threadId, { type: 'delta', streamId: e.streamId, attempt: e.attempt, seq: e.seq, text: e.text }));
    this.on(EVENTS.streamReset, (e) => store.dispatch(e.threadId, { type: 'reset', streamId: e.streamId, attempt: e.attempt }));
    this.on(EVENTS.streamCompleted, (e) => store.dispatch(e.threadId, { type: 'completed', streamId: e.streamId, message: e.message }));
    this.on(EVENTS.streamFailed, (e) => store.dispatch(e.threadId, { type: 'failed', streamId: e.streamId, messageId: e.messageId, error: e.error }));
    this.on(EVENTS.streamCancelled, (e) => store.dispatch(e.threadId, { type: 'cancelled', streamId: e.streamId, messageId: e.messageId }));
    this.on(EVENTS.notificationCreated, (n) => this.ctx.notification(n));
  }

  private on<E extends (typeof SOCKET_EVENTS)[number]>(event: E, handler: E extends keyof ServerToClientEvents ? ServerToClientEvents[E] : (...args: any[]) => void): void {
    this.socket.on(event as never, handler as never);
    this.handlers.push([event, handler as (...args: any[]) => void]);
  }

  /** socket.io's `auth` callback: the token for this attempt, then the server's answer is awaited for `ackTimeoutMs`. */
  private authenticate(send: (data: object) => void): void {
    const fresh = this.freshToken;
    this.freshToken = false;
    this.options.tokens.get(fresh).then(
      (token) => {
        if (this.closed || this.fatal) return;
        this.armAnswerTimer();
        send({ token });
      },
      (err: unknown) => {
        if (this.closed || this.fatal) return;
        // Whatever hands out tokens did not answer: give up this attempt, try again later.
        this.ctx.report(err, { what: 'token for the socket' });
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
    if (this.closed || this.fatal) return;
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
      if (!this.closed && !this.fatal && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  private giveUp(problem: Problem): void {
    this.fatal = problem;
    this.lastProblem = problem;
    this.down('offline');
    for (const threadId of this.rooms.viewed) this.ctx.store.dispatch(threadId, { type: 'error', error: problem });
    this.ctx.report(new ChatApiError(problem.code, problem.message, 0), { what: 'socket connection' });
  }

  private down(status: ConnectionStatus): void {
    this.setStatus(status);
    this.rooms.disconnected();
    this.poller.update();
  }

  private setStatus(status: ConnectionStatus): void {
    if (status === this.current) return;
    this.current = status;
    this.ctx.statusChanged(status);
  }

  private linkChanged(threadId: string): void {
    if (this.fatal) return;
    this.ctx.store.dispatch(threadId, { type: 'link', link: this.rooms.link(threadId), problem: this.rooms.problem(threadId) });
    this.poller.update();
  }

  private applySnapshots(threadId: string, streams: StreamSnapshot[]): void {
    for (const s of streams) this.ctx.store.dispatch(threadId, { type: 'snapshot', stream: s });
    this.poller.update();
  }

  private async poll(streamId: string): Promise<void> {
    try {
      const s = await this.ctx.api.getStream(streamId);
      this.ctx.store.dispatch(s.threadId, { type: 'snapshot', stream: { ...s, streamId: s.id } });
    } catch (err) {
      this.ctx.report(err, { what: 'fallback poll', streamId });
    }
  }

  watch(threadId: string): Promise<void> {
    if (this.fatal) {
      this.ctx.store.dispatch(threadId, { type: 'error', error: this.fatal });
      return Promise.resolve();
    }
    const attached = this.rooms.want(threadId);
    this.poller.update();
    return attached;
  }

  unwatch(threadId: string): void {
    this.rooms.drop(threadId);
    this.poller.update();
  }

  forget(threadId: string): void {
    this.rooms.forget(threadId);
    this.poller.update();
  }

  threadChanged(): void {
    this.poller.update();
  }

  async send(threadId: string, content: string, localId: string, options: SendOptions): Promise<SendMessageResult> {
    const result = await this.ctx.api.sendMessage(threadId, { content, ...(options.model ? { model: options.model } : {}) }, options.idempotencyKey);
    this.ctx.store.dispatch(threadId, { type: 'sent', localId, result });
    // The stream id is known now: a viewed thread that is not joined starts polling it.
    this.poller.update();
    return result;
  }

  async cancel(streamId: string): Promise<void> {
    await this.ctx.api.cancelStream(streamId);
  }

  status(): ConnectionStatus {
    return this.current;
  }

  problem(): Problem | null {
    return this.current === 'connected' ? null : this.lastProblem;
  }

  counts(): TransportCounts {
    let socketListeners = 0;
    for (const event of SOCKET_EVENTS) socketListeners += this.socket.listeners(event as never).length;
    const own = (this.retryTimer ? 1 : 0) + (this.answerTimer ? 1 : 0);
    return { socketListeners, joinedThreads: this.rooms.joinedCount, timers: this.poller.timers + this.rooms.timers + own, pollRounds: this.poller.pollRounds, liveResponses: 0 };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearAnswerTimer();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.poller.close();
    this.rooms.close();
    for (const [event, handler] of this.handlers) this.socket.off(event as never, handler as never);
    this.handlers.length = 0;
    this.socket.disconnect();
    this.setStatus('offline');
  }
}
