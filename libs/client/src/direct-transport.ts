import type { Message, SendMessageResult, StreamError } from '@bgs/shared/browser';
import { ChatApiError, errorFromResponse } from './http-api';
import { SseParser, type SseEvent } from '@bgs/shared/browser';
import type { ConnectionStatus, SendOptions, Transport, TransportContext, TransportCounts } from './transport';

const INTERRUPTED: StreamError = { code: 'interrupted', message: 'The answer stopped before it ended. Please try again.' };

interface Reading {
  threadId: string;
  localId: string;
  streamId: string | null;
  ended: boolean;
  started: (result: SendMessageResult) => void;
}

/**
 * Direct mode (`BACKGROUND_STREAMING=false`): the send response itself streams the
 * answer as server-sent events, as plain client-side streaming does. No socket, no
 * polling, no timers. The response is read by the client, not by a view, so switching
 * threads does not stop it; `close()` (or `cancel`) does, and the server keeps the
 * partial text as a cancelled message.
 */
export class DirectTransport implements Transport {
  private readonly live = new Map<string, AbortController>();
  private readonly localOf = new Map<string, string>();

  constructor(private readonly ctx: TransportContext) {}

  /** The send response carries the updates: a viewed thread is as live as it gets. */
  watch(threadId: string): Promise<void> {
    this.ctx.store.dispatch(threadId, { type: 'link', link: 'live', problem: null });
    return Promise.resolve();
  }

  unwatch(threadId: string): void {
    this.ctx.store.dispatch(threadId, { type: 'link', link: 'idle', problem: null });
  }

  forget(): void {}

  threadChanged(): void {}

  send(threadId: string, content: string, localId: string, options: SendOptions): Promise<SendMessageResult> {
    return new Promise((resolve, reject) => {
      const reading: Reading = { threadId, localId, streamId: null, ended: false, started: resolve };
      // Rejections after `started` resolved are no-ops: by then the outcome is in the store.
      this.ctx.api.track(() => this.stream(reading, content, options)).catch(reject);
    });
  }

  private async stream(reading: Reading, content: string, options: SendOptions): Promise<void> {
    const controller = new AbortController();
    this.live.set(reading.localId, controller);
    try {
      const res = await this.ctx.api.raw('POST', `/api/threads/${encodeURIComponent(reading.threadId)}/messages`, {
        body: { content, ...(options.model ? { model: options.model } : {}) },
        headers: { accept: 'text/event-stream', ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}) },
        signal: controller.signal,
      });
      if (!res.ok || !/text\/event-stream/.test(res.headers.get('content-type') ?? '') || !res.body) throw await errorFromResponse(res);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SseParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.push(decoder.decode(value, { stream: true }))) this.handle(reading, event);
      }
    } catch (err) {
      // Before the answer started this is the send's own failure; after, the stream's.
      if (!reading.streamId) throw err;
      if (!controller.signal.aborted) this.ctx.report(err, { what: 'direct answer stream', streamId: reading.streamId });
    } finally {
      this.live.delete(reading.localId);
      if (reading.streamId) this.localOf.delete(reading.streamId);
      if (reading.streamId && !reading.ended) {
        // No final event: dropped here (the server keeps it as cancelled), or cut off, where
        // the stored message is the truth: one read replaces this guess when it can.
        const streamId = reading.streamId;
        if (controller.signal.aborted) this.ctx.store.dispatch(reading.threadId, { type: 'cancelled', streamId });
        else {
          this.ctx.store.dispatch(reading.threadId, { type: 'failed', streamId, error: INTERRUPTED });
          this.ctx.refreshHistory(reading.threadId);
        }
      }
    }
    if (!reading.streamId) throw new ChatApiError('protocol', 'the answer stream ended before it started', 0);
  }

  private handle(reading: Reading, event: SseEvent): void {
    const { store } = this.ctx;
    const data = JSON.parse(event.data) as Record<string, unknown>;
    if (event.event === 'started') {
      const result = data as unknown as SendMessageResult;
      reading.streamId = result.stream.id;
      this.localOf.set(reading.streamId, reading.localId);
      store.dispatch(reading.threadId, { type: 'sent', localId: reading.localId, result });
      reading.started(result);
      return;
    }
    const streamId = reading.streamId;
    if (!streamId) return;
    const message = data.message as Message | undefined;
    switch (event.event) {
      case 'delta':
        // One attempt per direct generation: no retries in the request.
        store.dispatch(reading.threadId, { type: 'delta', streamId, attempt: 1, seq: data.seq as number, text: data.text as string });
        break;
      case 'completed':
        reading.ended = true;
        store.dispatch(reading.threadId, { type: 'completed', streamId, message: message as Message });
        break;
      case 'failed':
        reading.ended = true;
        store.dispatch(reading.threadId, { type: 'failed', streamId, error: data.error as StreamError, ...(message ? { message } : {}) });
        break;
      case 'cancelled':
        reading.ended = true;
        store.dispatch(reading.threadId, { type: 'cancelled', streamId, ...(message ? { message } : {}) });
        break;
    }
  }

  async cancel(streamId: string): Promise<void> {
    try {
      await this.ctx.api.cancelStream(streamId);
    } catch (err) {
      // The API cannot be reached: dropping the response stops the generation all the same.
      const localId = this.localOf.get(streamId);
      if (!localId) throw err;
      this.live.get(localId)?.abort();
    }
  }

  status(): ConnectionStatus {
    return 'none';
  }

  problem(): null {
    return null;
  }

  counts(): TransportCounts {
    return { socketListeners: 0, joinedThreads: 0, timers: 0, pollRounds: 0, liveResponses: this.live.size };
  }

  close(): void {
    for (const controller of this.live.values()) controller.abort();
  }
}
