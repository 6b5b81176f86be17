// The browser-safe client a chat app embeds (browser and Node): imports only
// libs/shared and socket.io-client. Usage:
//
//   const client = await createChatClient({ baseUrl: '', token }); // token: a string or () => string | Promise<string>
//   const view = client.openThread(threadId);
//   view.subscribe(({ messages, streaming }) => render(messages, streaming));
//   await client.send(threadId, 'Hello');
//   view.close(); // switching away never stops the answer
export { createChatClient, type ChatClient, type ChatClientMode, type ChatClientOptions, type ClientStats } from './chat-client';
export { timeoutScheduler, defaultScheduler, type FrameScheduler } from './frame-scheduler';
export { ChatApiError } from './http-api';
export type { ThreadView } from './thread-view';
export type { ThreadViewState, ThreadListener } from './thread-store';
export type { ChatMessage, ThreadStatus, ThreadProblem } from './thread-state';
export type { TokenSource, TokenRequest } from './tokens';
export type { SocketTransports } from './realtime-transport';
export type { ConnectionStatus, SendOptions } from './transport';
export type { Capabilities, Message, Notification, Page, SendMessageResult, StreamState, Thread } from '@bgs/shared/browser';
