import {
  applyFrame,
  applyReset,
  applySnapshot,
  drainFrames,
  EMPTY_POSITION,
  isTerminalStreamStatus,
  type Frame,
  type Message,
  type MessageStatus,
  type SendMessageResult,
  type StreamError,
  type StreamPosition,
  type StreamSnapshot,
  type StreamStatus,
} from '@bgs/shared/browser';

/**
 * One thread as a client holds it, and the pure rules that change it. Every source
 * (REST history, the send answer, `thread.open` snapshots, socket events, the fallback
 * poll, the direct SSE response) becomes a `ThreadEvent`; `reduceThread` applies it so
 * that an older view of a message never replaces a newer one, whatever the order.
 */

/** What the client holds of one stream: its position by the resume rule, plus frames past a gap. */
export interface HeldStream {
  messageId: string | null;
  position: StreamPosition;
  waiting: Frame[];
  /** The content is the stored final message: nothing replaces it any more. */
  final: boolean;
  error?: StreamError;
}

/** A user message sent from here whose answer (and ids) has not arrived yet. */
export interface PendingSend {
  localId: string;
  content: string;
  createdAt: string;
  /** Stored user messages with the same text before this send: any other one is this send, stored. */
  earlier?: string[];
}

/**
 * How a thread gets its live updates while viewed: `live` (room joined, or direct mode),
 * `joining` (asking), `retrying` (the server could not open it just now: asked again
 * after a backoff), `offline` (no socket), `idle` (not viewed, deleted, or refused).
 */
export type ThreadLink = 'idle' | 'joining' | 'live' | 'retrying' | 'offline';

/** A problem being retried, or the reason a thread cannot be shown. */
export interface ThreadProblem {
  code: string;
  message: string;
}

/** Everything the client holds of one thread. */
export interface ThreadState {
  threadId: string;
  /** Server records by id; an assistant message's content and status come from its stream body. */
  records: Record<string, Message>;
  streams: Record<string, HeldStream>;
  pending: PendingSend[];
  loaded: boolean;
  /** Why the thread cannot be shown (a permanent refusal), or null. */
  error: ThreadProblem | null;
  /** Deleted (here or in another tab): nothing more will arrive. */
  deleted: boolean;
  link: ThreadLink;
  /** Why the live link is being retried (with `link: 'retrying'`). */
  linkProblem: ThreadProblem | null;
  /** Why the last history read failed, while it is retried. */
  historyProblem: ThreadProblem | null;
}

/** Every way a thread can learn something; `reduceThread` applies each. */
export type ThreadEvent =
  | { type: 'history'; messages: Message[] }
  | { type: 'sending'; pending: PendingSend }
  | { type: 'sent'; localId?: string; result: SendMessageResult }
  | { type: 'sendFailed'; localId: string }
  | { type: 'snapshot'; stream: StreamSnapshot }
  | { type: 'started'; streamId: string; messageId: string; attempt: number }
  | { type: 'delta'; streamId: string; attempt: number; seq: number; text: string }
  | { type: 'reset'; streamId: string; attempt: number }
  | { type: 'completed'; streamId: string; message: Message }
  | { type: 'failed'; streamId: string; messageId?: string; error: StreamError; message?: Message }
  | { type: 'cancelled'; streamId: string; messageId?: string; message?: Message }
  | { type: 'error'; error: ThreadProblem | null }
  /** The thread is opened again after being left: what is held may be stale until the history is read. */
  | { type: 'reopened' }
  /** The thread was deleted (here or in another tab): running answers end, nothing more arrives. */
  | { type: 'deleted' }
  /** How live updates reach the thread now (the transport says). */
  | { type: 'link'; link: ThreadLink; problem: ThreadProblem | null }
  /** A history read failed for a reason worth retrying (it is retried). */
  | { type: 'historyProblem'; problem: ThreadProblem };

/** A thread the client has not read anything of yet. */
export function emptyThread(threadId: string): ThreadState {
  return { threadId, records: {}, streams: {}, pending: [], loaded: false, error: null, deleted: false, link: 'idle', linkProblem: null, historyProblem: null };
}

const STREAM_STATUS_OF: Record<Exclude<MessageStatus, 'streaming'>, StreamStatus> = {
  complete: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
};

const emptyBody = (messageId: string | null): HeldStream => ({ messageId, position: EMPTY_POSITION, waiting: [], final: false });

/** The body a stored message describes: final once the message is, else its live position. */
function bodyFromMessage(m: Message): { position: StreamPosition; final: boolean } {
  if (m.status !== 'streaming') return { position: { attempt: m.attempt ?? 0, seq: m.seq ?? 0, content: m.content, status: STREAM_STATUS_OF[m.status] }, final: true };
  const attempt = m.attempt ?? 0;
  return { position: { attempt, seq: m.seq ?? 0, content: m.content, status: attempt === 0 ? 'queued' : 'streaming' }, final: false };
}

/**
 * Merges another view of a stream into what is held. A stored final beats everything;
 * otherwise the resume rule's order decides (terminal over live, then attempt, then seq),
 * and frames that were waiting for this position are applied.
 */
export function mergeBody(held: HeldStream, position: StreamPosition, final: boolean, error?: StreamError): HeldStream {
  if (held.final) return held;
  if (final) return { ...held, position, waiting: [], final: true, ...(error ? { error } : {}) };
  const next = applySnapshot(held.position, position);
  if (next === held.position) return held;
  const drained = drainFrames(next, held.waiting);
  return { ...held, position: drained.state, waiting: drained.waiting, ...(error ? { error } : {}) };
}

/** Applies one frame by the resume rule; a frame past a gap waits for the frames or a snapshot before it. */
export function applyDelta(held: HeldStream, frame: Frame): HeldStream {
  if (held.final) return held;
  const r = applyFrame(held.position, frame);
  if (r.outcome === 'applied') {
    if (held.waiting.length === 0) return { ...held, position: r.state };
    const drained = drainFrames(r.state, held.waiting);
    return { ...held, position: drained.state, waiting: drained.waiting };
  }
  if (r.outcome === 'ahead') return { ...held, waiting: [...held.waiting, { attempt: frame.attempt, seq: frame.seq, text: frame.text }] };
  return held;
}

function resetBody(held: HeldStream, attempt: number): HeldStream {
  if (held.final) return held;
  const live = applyReset(held.position, attempt);
  if (live === held.position) return held;
  const drained = drainFrames(live, held.waiting);
  return { ...held, position: drained.state, waiting: drained.waiting };
}

/** A record replaces what is held only when it is newer (a higher version, or final over streaming). */
function newerRecord(held: Message | undefined, incoming: Message): boolean {
  if (!held) return true;
  const heldFinal = held.status !== 'streaming';
  const incomingFinal = incoming.status !== 'streaming';
  if (heldFinal !== incomingFinal) return incomingFinal;
  return incoming.version > held.version;
}

function withRecord(state: ThreadState, m: Message): ThreadState {
  let next = state;
  if (newerRecord(state.records[m.id], m)) next = { ...next, records: { ...next.records, [m.id]: m } };
  if (m.role !== 'assistant' || !m.streamId) return next;
  const held = next.streams[m.streamId] ?? emptyBody(m.id);
  const { position, final } = bodyFromMessage(m);
  const merged = mergeBody(held.messageId ? held : { ...held, messageId: m.id }, position, final);
  return merged === next.streams[m.streamId] ? next : withBody(next, m.streamId, merged);
}

const withBody = (state: ThreadState, streamId: string, body: HeldStream): ThreadState => ({ ...state, streams: { ...state.streams, [streamId]: body } });

function updateBody(state: ThreadState, streamId: string, messageId: string | null | undefined, update: (b: HeldStream) => HeldStream): ThreadState {
  const held = state.streams[streamId];
  const base = held ?? emptyBody(messageId ?? null);
  const linked = messageId && !base.messageId ? { ...base, messageId } : base;
  const next = update(linked);
  return next === held ? state : withBody(state, streamId, next);
}

/** A terminal event without the stored message: the held content with that status, until a stored final arrives. */
function endBody(status: 'failed' | 'cancelled', error?: StreamError) {
  return (b: HeldStream): HeldStream => {
    if (b.final || isTerminalStreamStatus(b.position.status)) return b;
    return { ...b, position: { ...b.position, status }, waiting: [], ...(error ? { error } : {}) };
  };
}

/** The pure state machine of one thread. Returns `state` itself when nothing changed. */
export function reduceThread(state: ThreadState, event: ThreadEvent): ThreadState {
  switch (event.type) {
    case 'history': {
      let next = event.messages.reduce(withRecord, state);
      if (!next.loaded) next = { ...next, loaded: true };
      // The server answered for the thread: it exists, and nothing is wrong with reading it.
      if (next.error || next.historyProblem || next.deleted) next = { ...next, error: null, historyProblem: null, deleted: false };
      return next;
    }
    case 'sending': {
      const earlier = Object.values(state.records).filter((m) => m.role === 'user' && m.content === event.pending.content).map((m) => m.id);
      return { ...state, pending: [...state.pending, { ...event.pending, earlier }] };
    }
    case 'sent': {
      const { userMessage, assistantMessage, stream } = event.result;
      let next = event.localId ? { ...state, pending: state.pending.filter((p) => p.localId !== event.localId) } : state;
      next = withRecord(withRecord(next, userMessage), assistantMessage);
      return reduceThread(next, { type: 'snapshot', stream: { ...stream, streamId: stream.id } });
    }
    case 'sendFailed':
      return { ...state, pending: state.pending.filter((p) => p.localId !== event.localId) };
    case 'snapshot': {
      const s = event.stream;
      const position: StreamPosition = { attempt: s.attempt, seq: s.seq, content: s.content, status: s.status };
      // A snapshot of an ended stream carries the stored final content.
      return updateBody(state, s.streamId, s.messageId, (b) => mergeBody(b, position, isTerminalStreamStatus(s.status), s.error));
    }
    case 'started':
      // Attempt N starts from empty content, exactly as `stream.reset` says.
      return updateBody(state, event.streamId, event.messageId, (b) => resetBody(b, event.attempt));
    case 'delta':
      return updateBody(state, event.streamId, null, (b) => applyDelta(b, event));
    case 'reset':
      return updateBody(state, event.streamId, null, (b) => resetBody(b, event.attempt));
    case 'completed':
      return withRecord(state, event.message);
    case 'failed':
      if (event.message) return updateBody(withRecord(state, event.message), event.streamId, null, (b) => (b.error ? b : { ...b, error: event.error }));
      return updateBody(state, event.streamId, event.messageId, endBody('failed', event.error));
    case 'cancelled':
      if (event.message) return withRecord(state, event.message);
      return updateBody(state, event.streamId, event.messageId, endBody('cancelled'));
    case 'error':
      return { ...state, error: event.error };
    case 'reopened':
      return state.loaded ? { ...state, loaded: false } : state;
    case 'deleted': {
      if (state.deleted) return state;
      // Deleting a thread cancels its running answer on the server: show it stopped, keep its text.
      let next: ThreadState = { ...state, deleted: true, pending: [], link: 'idle', linkProblem: null };
      for (const streamId of activeStreamIds(next)) next = updateBody(next, streamId, null, endBody('cancelled'));
      return next;
    }
    case 'link':
      if (state.link === event.link && sameProblem(state.linkProblem, event.problem)) return state;
      return { ...state, link: event.link, linkProblem: event.problem };
    case 'historyProblem':
      if (sameProblem(state.historyProblem, event.problem)) return state;
      return { ...state, historyProblem: event.problem };
  }
}

const sameProblem = (a: ThreadProblem | null, b: ThreadProblem | null) => a === b || (a !== null && b !== null && a.code === b.code && a.message === b.message);

/**
 * One word for what a view of the thread shows, in order of precedence: `deleted`,
 * `error` (a permanent refusal: see `error`), `retrying` (something failed for a
 * reason worth retrying, and is being retried), `offline` (no socket: running answers
 * are polled), `loading` (history or live link not in yet), `live`.
 */
export type ThreadStatus = 'loading' | 'live' | 'retrying' | 'offline' | 'deleted' | 'error';

export function threadStatus(state: ThreadState): ThreadStatus {
  if (state.deleted) return 'deleted';
  if (state.error) return 'error';
  if (state.link === 'retrying' || state.historyProblem) return 'retrying';
  if (state.link === 'offline') return 'offline';
  if (!state.loaded || state.link === 'joining') return 'loading';
  return 'live';
}

/** Ids of the streams this thread still expects frames for (what a fallback poll asks about). */
export function activeStreamIds(state: ThreadState): string[] {
  return Object.entries(state.streams)
    .filter(([, b]) => !b.final && !isTerminalStreamStatus(b.position.status))
    .map(([id]) => id);
}
