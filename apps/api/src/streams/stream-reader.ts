import { isTerminalStreamStatus, notFound, type Message, type StreamPosition, type StreamSnapshot, type StreamState } from '@bgs/shared';
import { toMessage, toStreamState, versionPosition, type LiveBuffer, type MessageRow, type PrismaClient, type StreamRow } from '@bgs/server';

type StreamWithContent = StreamRow & { message: { content: string; version: number } };

/** What the stream's message row holds, with the attempt and frame its `version` says it was written at. */
const MESSAGE_CHECKPOINT = { select: { content: true, version: true } } as const;

/**
 * Where a running stream's stored content stands: the attempt and seq encoded in the
 * message's version (`messageVersion`), never the stream row's, whose attempt may have
 * moved on past the checkpoint and whose seq is only written when the stream ends.
 * Content, attempt and seq then agree, so a client that holds frames can apply the
 * resume rule to it (docs/protocol.md#resume-rule).
 */
function checkpointPosition(version: number): { attempt: number; seq: number } {
  const { attempt, seq } = versionPosition(version);
  return { attempt, seq };
}

/**
 * Postgres holds a stream's status and final content; the live buffer holds what a
 * running attempt has produced. Postgres wins once the stream has ended; before that,
 * the live buffer (when it has started) is newer than any checkpoint. Without it (not
 * started yet, expired or lost), the last checkpoint is shown at its own position.
 */
export function mergeLive(row: StreamWithContent, live: StreamPosition | null): StreamState {
  if (isTerminalStreamStatus(row.status)) return toStreamState(row, row.message.content);
  if (!live || live.attempt === 0) return { ...toStreamState(row, row.message.content), ...checkpointPosition(row.message.version) };
  // The stream may have ended between the two reads: the live status says so.
  const status = isTerminalStreamStatus(live.status) ? live.status : 'streaming';
  return { ...toStreamState(row, live.content), status, attempt: live.attempt, seq: live.seq };
}

export function toSnapshot(state: StreamState): StreamSnapshot {
  return { streamId: state.id, messageId: state.messageId, status: state.status, attempt: state.attempt, seq: state.seq, content: state.content };
}

/** Reads streams and messages as a client should see them right now. */
export class StreamReader {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly live: Pick<LiveBuffer, 'read'>,
  ) {}

  async get(userId: string, streamId: string): Promise<StreamState> {
    const row = await this.prisma.stream.findFirst({ where: { id: streamId, userId }, include: { message: MESSAGE_CHECKPOINT } });
    if (!row) throw notFound('stream');
    return mergeLive(row, isTerminalStreamStatus(row.status) ? null : await this.live.read({ streamId, threadId: row.threadId }));
  }

  /**
   * The `thread.open` snapshot: the thread's latest stream, running or just ended,
   * so a client that comes back after completion has the final answer at once.
   */
  async threadSnapshot(userId: string, threadId: string): Promise<StreamSnapshot[]> {
    const thread = await this.prisma.thread.findFirst({
      where: { id: threadId, userId },
      select: { streams: { orderBy: { createdAt: 'desc' }, take: 1, include: { message: MESSAGE_CHECKPOINT } } },
    });
    if (!thread) throw notFound('thread');
    const [latest] = thread.streams;
    if (!latest) return [];
    const live = isTerminalStreamStatus(latest.status) ? null : await this.live.read({ streamId: latest.id, threadId });
    return [toSnapshot(mergeLive(latest, live))];
  }

  /** Messages oldest first; a streaming one carries its live content, attempt and seq (or its checkpoint's, without a live buffer). */
  async withLiveContent(rows: MessageRow[]): Promise<Message[]> {
    return Promise.all(
      rows.map(async (row) => {
        const message = toMessage(row);
        if (row.status !== 'streaming' || !row.streamId) return message;
        const live = await this.live.read({ streamId: row.streamId, threadId: row.threadId });
        if (!live || live.attempt === 0) return { ...message, ...checkpointPosition(row.version) };
        return { ...message, content: live.content, attempt: live.attempt, seq: live.seq };
      }),
    );
  }
}
