import { EVENTS, type SendMessageResult, type StreamSnapshot } from '@bgs/shared/browser';
import type { Problem } from './backoff';
import { FallbackPoller } from './fallback-poller';
import { SocketConnection, type ConnectionOptions } from './socket-connection';
import { activeStreamIds } from './thread-state';
import { ThreadRooms } from './thread-rooms';
import type { ConnectionStatus, SendOptions, Transport, TransportContext, TransportCounts } from './transport';

/** The socket and fallback-poll settings (see `ChatClientOptions`). */
export interface RealtimeOptions extends ConnectionOptions {
  pollIntervalMs: number;
}

/**
 * Background mode: sends over REST (202 at once), live updates over one socket.io
 * connection (`SocketConnection`, which also retries it when the server refuses it).
 * Viewed threads are joined as rooms (`ThreadRooms`); their events go into the store,
 * where the resume rule reconciles them with snapshots. A viewed thread that is not
 * joined (the socket is down, or the server could not open it yet) has its running
 * streams polled instead.
 */
export class RealtimeTransport implements Transport {
  private readonly connection: SocketConnection;
  private readonly rooms: ThreadRooms;
  private readonly poller: FallbackPoller;
  private closed = false;

  constructor(
    private readonly ctx: TransportContext,
    options: RealtimeOptions,
  ) {
    this.connection = new SocketConnection(options, {
      up: (again) => this.up(again),
      down: () => {
        this.rooms.disconnected();
        this.poller.update();
      },
      refused: (error) => {
        for (const threadId of this.rooms.viewed) ctx.store.dispatch(threadId, { type: 'error', error });
      },
      statusChanged: (status) => ctx.statusChanged(status),
      report: (err, context) => ctx.report(err, context),
    });
    this.rooms = new ThreadRooms(
      this.connection.channel,
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
        if (this.connection.refused || this.closed) return [];
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

  private up(again: boolean): void {
    this.rooms.connected();
    // Frames sent while the socket was down are gone: the snapshots on rejoin cover the
    // latest stream, the history read covers whatever ended meanwhile.
    if (again) for (const threadId of this.rooms.viewed) if (!this.ctx.store.state(threadId)?.deleted) this.ctx.refreshHistory(threadId);
    this.poller.update();
  }

  private listen(): void {
    const { store } = this.ctx;
    const { connection } = this;
    connection.on(EVENTS.threadDeleted, (e) => this.ctx.threadDeleted(e.threadId));
    connection.on(EVENTS.streamStarted, (e) => {
      store.dispatch(e.threadId, { type: 'started', streamId: e.streamId, messageId: e.messageId, attempt: e.attempt });
      // An answer to a message sent elsewhere (another tab): read the question too.
      const state = store.state(e.threadId);
      if (state && !state.records[e.messageId] && state.pending.length === 0) this.ctx.refreshHistory(e.threadId);
    });
    connection.on(EVENTS.streamDelta, (e) => store.dispatch(e.threadId, { type: 'delta', streamId: e.streamId, attempt: e.attempt, seq: e.seq, text: e.text }));
    connection.on(EVENTS.streamReset, (e) => store.dispatch(e.threadId, { type: 'reset', streamId: e.streamId, attempt: e.attempt }));
    connection.on(EVENTS.streamCompleted, (e) => store.dispatch(e.threadId, { type: 'completed', streamId: e.streamId, message: e.message }));
    connection.on(EVENTS.streamFailed, (e) => store.dispatch(e.threadId, { type: 'failed', streamId: e.streamId, messageId: e.messageId, error: e.error }));
    connection.on(EVENTS.streamCancelled, (e) => store.dispatch(e.threadId, { type: 'cancelled', streamId: e.streamId, messageId: e.messageId }));
    connection.on(EVENTS.notificationCreated, (n) => this.ctx.notification(n));
  }

  private linkChanged(threadId: string): void {
    if (this.connection.refused) return;
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
    const refused = this.connection.refused;
    if (refused) {
      this.ctx.store.dispatch(threadId, { type: 'error', error: refused });
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
    return this.connection.status;
  }

  problem(): Problem | null {
    return this.connection.problem;
  }

  counts(): TransportCounts {
    const timers = this.poller.timers + this.rooms.timers + this.connection.timers;
    return { socketListeners: this.connection.listeners, joinedThreads: this.rooms.joinedCount, timers, pollRounds: this.poller.pollRounds, liveResponses: 0 };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.poller.close();
    this.rooms.close();
    this.connection.close();
  }
}
