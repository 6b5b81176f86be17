// The browser-safe client a chat app embeds (browser and Node): imports only
// libs/shared and socket.io-client. Usage:
//
//   const client = await createChatClient({ baseUrl: '', token }); // token: a string or () => string | Promise<string>
//   const view = client.openThread(threadId);
//   view.subscribe(({ messages, streaming }) => render(messages, streaming));
//   await client.send(threadId, 'Hello');
//   view.close(); // switching away never stops the answer
export { createChatClient, type ChatClient, type ChatClientMode, type ClientStats } from './chat-client';
export type { ChatClientOptions } from './client-options';
export { timeoutScheduler, defaultScheduler, type FrameScheduler } from './frame-scheduler';
export { ChatApiError } from './http-api';
export type { ThreadView } from './thread-view';
export type { ThreadViewState, ThreadListener } from './thread-store';
export type { ThreadStatus, ThreadProblem } from './thread-state';
export type { ChatMessage } from './thread-messages';
export type { TokenSource, TokenRequest } from './tokens';
export type { SocketTransports } from './socket-connection';
export type { ConnectionStatus, SendOptions } from './transport';
export type { Capabilities, Message, Notification, Page, SendMessageResult, StreamState, Thread } from '@bgs/shared/browser';
