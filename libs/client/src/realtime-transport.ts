import { io, type Socket } from 'socket.io-client';
import {
  EVENTS,
  type ClientToServerEvents,
  type ServerToClientEvents,
  type SendMessageResult,
  type StreamSnapshot,
} from '@bgs/shared/browser';
import { FallbackPoller } from './fallback-poller';
import { activeStreamIds } from './thread-state';
import { ThreadRooms } from './thread-rooms';
import type { ConnectionStatus, SendOptions, Transport, TransportContext, TransportCounts } from './transport';

/** The socket and fallback-poll settings (see `ChatClientOptions`). */
export interface RealtimeOptions {
  url: string;
  token: string;
  pollIntervalMs: number;
  reconnectDelayMs: number;
  ackTimeoutMs: number;
}

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const SOCKET_EVENTS = ['connect', 'disconnect', 'connect_error', ...Object.values(EVENTS)] as const;

/**
 * Background mode: sends over REST (202 at once), live updates over one socket.io
 * connection. Viewed threads are joined as rooms (`ThreadRooms`); their events go
 * into the store, where the resume rule reconciles them with snapshots. While the
 * socket is down, the viewed threads' active streams are polled instead.
 */
export class RealtimeTransport implements Transport {
  private readonly socket: ClientSocket;
  private readonly rooms: ThreadRooms;
  private readonly poller: FallbackPoller;
  private readonly handlers: Array<[string, (...args: any[]) => void]> = [];
  private current: ConnectionStatus = 'connecting';
  private connectedBefore = false;
  private closed = false;

  constructor(
    private readonly ctx: TransportContext,
    options: RealtimeOptions,
  ) {
    // WebSocket only: several API instances then need no sticky sessions.
    this.socket = io(options.url, {
      auth: { token: options.token },
      transports: ['websocket'],
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
        refused: (threadId, error) => ctx.store.dispatch(threadId, { type: 'error', error: { code: error.code, message: error.message ?? error.code } }),
      },
    );
    this.poller = new FallbackPoller({
      intervalMs: options.pollIntervalMs,
      targets: () =>
        [...this.rooms.viewed].flatMap((threadId) => {
          const state = ctx.store.state(threadId);
          return state ? activeStreamIds(state) : [];
        }),
      poll: (streamId) => this.poll(streamId),
    });
    this.listen();
  }

  private listen(): void {
    const { store } = this.ctx;
    this.on('connect', () => {
      this.setStatus('connected');
      this.poller.setSocketDown(false);
      this.rooms.connected();
      // Frames sent while the socket was down are gone: the snapshots on rejoin cover the
      // latest stream, the history read covers whatever ended meanwhile.
      if (this.connectedBefore) for (const threadId of this.rooms.viewed) this.ctx.refreshHistory(threadId);
      this.connectedBefore = true;
    });
    this.on('disconnect', (reason: string) => {
      this.down(this.closed ? 'offline' : 'reconnecting');
      // The server closed this socket on purpose (not a network failure): socket.io does not retry then.
      if (reason === 'io server disconnect' && !this.closed) this.socket.connect();
    });
    this.on('connect_error', () => this.down(this.socket.active ? 'reconnecting' : 'offline'));
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

  private down(status: ConnectionStatus): void {
    this.setStatus(status);
    this.rooms.disconnected();
    this.poller.setSocketDown(true);
  }

  private setStatus(status: ConnectionStatus): void {
    if (status === this.current) return;
    this.current = status;
    this.ctx.statusChanged(status);
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
    const attached = this.rooms.want(threadId);
    this.poller.update();
    return attached;
  }

  unwatch(threadId: string): void {
    this.rooms.drop(threadId);
    this.poller.update();
  }

  async send(threadId: string, content: string, localId: string, options: SendOptions): Promise<SendMessageResult> {
    const result = await this.ctx.api.sendMessage(threadId, { content, ...(options.model ? { model: options.model } : {}) }, options.idempotencyKey);
    this.ctx.store.dispatch(threadId, { type: 'sent', localId, result });
    // The stream id is known now: a viewed thread whose socket is down starts polling it.
    this.poller.update();
    return result;
  }

  async cancel(streamId: string): Promise<void> {
    await this.ctx.api.cancelStream(streamId);
  }

  status(): ConnectionStatus {
    return this.current;
  }

  counts(): TransportCounts {
    let socketListeners = 0;
    for (const event of SOCKET_EVENTS) socketListeners += this.socket.listeners(event as never).length;
    return { socketListeners, joinedThreads: this.rooms.joinedCount, timers: this.poller.timers, pollRounds: this.poller.pollRounds, liveResponses: 0 };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.poller.close();
    for (const [event, handler] of this.handlers) this.socket.off(event as never, handler as never);
    this.handlers.length = 0;
    this.socket.disconnect();
    this.setStatus('offline');
  }
}
