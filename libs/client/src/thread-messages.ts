import { MESSAGE_STATUS_OF, type Message, type MessageStatus, type StreamError } from '@bgs/shared/browser';
import type { ThreadState } from './thread-state';

/**
 * What a view shows of a held thread: its messages in order, each with its stream's live
 * content. Derived from `ThreadState` (never stored), so it cannot drift from it.
 */

/** A message as a UI shows it: live content applied; `sending` until the server has it. */
export interface ChatMessage {
  /** The server's id, or a local id (`local-…`) while `sending`. */
  id: string;
  threadId: string;
  role: Message['role'];
  content: string;
  status: MessageStatus | 'sending';
  streamId?: string;
  /** Empty for an answer whose stored record has not been read yet. */
  createdAt: string;
  error?: StreamError;
}

const byCreation = (a: { createdAt: string; id: string }, b: { createdAt: string; id: string }) =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/**
 * The messages a UI shows, oldest first: stored messages with their stream's content,
 * then messages still being sent, then answers whose stored record has not arrived yet
 * (a stream started from another tab) so they show live at once.
 */
export function visibleMessages(state: ThreadState): ChatMessage[] {
  const shown: ChatMessage[] = Object.values(state.records)
    .sort(byCreation)
    .map((m) => {
      const body = m.streamId ? state.streams[m.streamId] : undefined;
      if (!body) return plain(m);
      return { ...plain(m), content: body.position.content, status: MESSAGE_STATUS_OF[body.position.status], ...(body.error ? { error: body.error } : {}) };
    });
  const storedUser = shown.filter((m) => m.role === 'user');
  for (const p of state.pending) {
    // The history read may bring this send's stored message before its answer does.
    const stored = storedUser.some((m) => m.content === p.content && !p.earlier?.includes(m.id));
    if (!stored) shown.push({ id: p.localId, threadId: state.threadId, role: 'user', content: p.content, status: 'sending', createdAt: p.createdAt });
  }
  for (const [streamId, body] of Object.entries(state.streams)) {
    if (!body.messageId || state.records[body.messageId]) continue;
    shown.push({
      id: body.messageId,
      threadId: state.threadId,
      role: 'assistant',
      content: body.position.content,
      status: MESSAGE_STATUS_OF[body.position.status],
      streamId,
      createdAt: '',
      ...(body.error ? { error: body.error } : {}),
    });
  }
  return shown;
}

function plain(m: Message): ChatMessage {
  return { id: m.id, threadId: m.threadId, role: m.role, content: m.content, status: m.status, ...(m.streamId ? { streamId: m.streamId } : {}), createdAt: m.createdAt };
}

/** True while a message is being sent or an answer is streaming. */
export const isStreaming = (messages: ChatMessage[]) => messages.some((m) => m.status === 'streaming' || m.status === 'sending');
