import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents, ThreadOpenAck } from '@bgs/shared';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A websocket-only socket.io client, connected (or rejected) before it resolves. */
export async function connectSocket(baseUrl: string, token: string, options: { reconnection?: boolean } = {}): Promise<TestSocket> {
  const socket: TestSocket = io(baseUrl, { auth: { token }, transports: ['websocket'], reconnection: options.reconnection ?? false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => reject(err));
  });
  return socket;
}

/** Waits for the next `event` whose payload matches; rejects after `timeoutMs`. */
export function nextEvent<E extends keyof ServerToClientEvents>(
  socket: TestSocket,
  event: E,
  match: (payload: Parameters<ServerToClientEvents[E]>[0]) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  return new Promise((resolve, reject) => {
    const listener = ((payload: Parameters<ServerToClientEvents[E]>[0]) => {
      if (!match(payload)) return;
      cleanup();
      resolve(payload);
    }) as ServerToClientEvents[E];
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no ${String(event)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off(event, listener as never);
    };
    socket.on(event, listener as never);
  });
}

export function openThread(socket: TestSocket, threadId: string, timeoutMs = 10_000): Promise<ThreadOpenAck> {
  return socket.timeout(timeoutMs).emitWithAck('thread.open', { threadId });
}

export function closeThread(socket: TestSocket, threadId: string, timeoutMs = 10_000) {
  return socket.timeout(timeoutMs).emitWithAck('thread.close', { threadId });
}
