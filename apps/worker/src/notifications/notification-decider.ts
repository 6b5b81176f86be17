import { randomUUID } from 'node:crypto';
import { EVENTS, isTerminalStreamStatus, rooms, type Notification, type StreamStatus, type TerminalStreamStatus } from '@bgs/shared';
import { encodeRoomEvent, Prisma, toNotification, type Logger, type NotificationRow, type PacketPublisher, type PresenceStore, type PrismaClient } from '@bgs/server';
import { decideNotification, notificationText, type NotificationDecision } from './notification-decision';

/** Where created notifications are pushed (`notification.created` to the user's room). */
export interface NotificationPusher {
  push(userId: string, notification: Notification): void;
}

/** `error`: this stream could not be decided now (logged); the sweep tries again. */
export type DecideResult = 'notified' | 'skipped' | 'already-decided' | 'not-ended' | 'gone' | 'error';

/** Who asked for the decision: the event listener or the sweep (logged, so catch-up is visible). */
export type DecisionSource = 'event' | 'sweep';

/** A stream as `decideMany` reads it: with its thread's title and mute flag and its answer. */
interface Undecided {
  id: string;
  status: StreamStatus;
  notificationDecision: string | null;
  threadId: string;
  userId: string;
  errorMessage: string | null;
  title: string;
  muted: boolean;
  answer: string;
}

/** What the claim statement gives back for each stream it claimed: the notification it created, if any. */
type ClaimedRow = { claimedStreamId: string } & ({ [K in keyof NotificationRow]: null } | NotificationRow);

/**
 * Decides the notifications of ended streams, exactly once across any number of
 * listeners, replays and sweeps, in batches: one read of the streams, one presence read
 * per thread (auto-pipelined into one round trip), and one statement that claims every
 * decision on its stream row and inserts the notifications of the claimed ones (a
 * notification's stream id is unique too). Notifications are pushed after the commit.
 */
export class NotificationDecider {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly presence: PresenceStore,
    private readonly pusher: NotificationPusher,
    private readonly logger: Logger,
    private readonly onDecision?: (decision: string) => void,
  ) {}

  async decide(streamId: string, via: DecisionSource = 'event'): Promise<DecideResult> {
    return (await this.decideMany([streamId], via)).get(streamId) as DecideResult;
  }

  async decideMany(streamIds: readonly string[], via: DecisionSource = 'event'): Promise<Map<string, DecideResult>> {
    const results = new Map<string, DecideResult>(streamIds.map((id) => [id, 'gone']));
    const rows = await this.read(streamIds);
    const undecided: Undecided[] = [];
    for (const row of rows) {
      if (row.notificationDecision) results.set(row.id, 'already-decided');
      else if (!isTerminalStreamStatus(row.status)) results.set(row.id, 'not-ended');
      else undecided.push(row);
    }
    if (undecided.length === 0) return results;

    const open = await this.openThreads(undecided.filter((s) => s.status !== 'cancelled').map((s) => s.threadId));
    const decided = undecided.map((stream) => ({ stream, open: open.has(stream.threadId), decision: this.decisionOf(stream, open) }));
    const { rows: claimedRows, failed } = await this.claimEach(decided);
    const claimed = new Map(claimedRows.map((row) => [row.claimedStreamId, row]));
    for (const { stream, open: threadOpen, decision } of decided) {
      const row = claimed.get(stream.id);
      if (failed.has(stream.id)) {
        results.set(stream.id, 'error');
        continue;
      }
      if (!row) {
        results.set(stream.id, 'already-decided');
        continue;
      }
      const label = decision.notify ? decision.type : decision.reason;
      this.onDecision?.(label);
      this.logger.info({ streamId: stream.id, threadId: stream.threadId, outcome: stream.status, threadOpen, muted: stream.muted, decision: label, via }, 'notification decided');
      results.set(stream.id, row.id ? 'notified' : 'skipped');
      if (row.id) this.pusher.push(row.userId, toNotification(row));
    }
    return results;
  }

  private decisionOf(stream: Undecided, open: Set<string>): NotificationDecision {
    return decideNotification(stream.status as TerminalStreamStatus, open.has(stream.threadId), stream.muted);
  }

  /** The streams, their threads and answers in one statement. */
  private read(streamIds: readonly string[]): Promise<Undecided[]> {
    return this.prisma.$queryRaw<Undecided[]>`
      SELECT s.id::text AS id, s.status::text AS status, s.notification_decision::text AS "notificationDecision",
        s.thread_id AS "threadId", s.user_id AS "userId", s.error_message AS "errorMessage",
        t.title, t.muted, m.content AS answer
      FROM streams s JOIN threads t ON t.id = s.thread_id JOIN messages m ON m.id = s.message_id
      WHERE s.id = ANY(${[...new Set(streamIds)]}::uuid[])`;
  }

  /** The threads among these that at least one socket has open. */
  private async openThreads(threadIds: string[]): Promise<Set<string>> {
    const unique = [...new Set(threadIds)];
    const open = await Promise.all(unique.map((id) => this.presence.isOpen(id)));
    return new Set(unique.filter((_, i) => open[i]));
  }

  /** The batch in one statement; if that fails, one at a time, so one stream that cannot be decided holds back no other. */
  private async claimEach(decided: Array<{ stream: Undecided; decision: NotificationDecision }>): Promise<{ rows: ClaimedRow[]; failed: Set<string> }> {
    const failed = new Set<string>();
    try {
      return { rows: await this.claim(decided), failed };
    } catch (err) {
      if (decided.length === 1) throw err;
      this.logger.warn({ streams: decided.length, err: (err as Error).message }, 'batch notification claim failed; deciding one at a time');
    }
    const rows: ClaimedRow[] = [];
    for (const one of decided) {
      try {
        rows.push(...(await this.claim([one])));
      } catch (err) {
        failed.add(one.stream.id);
        this.logger.error({ streamId: one.stream.id, err: (err as Error).message }, 'could not decide notification; the sweep will retry');
      }
    }
    return { rows, failed };
  }

  /**
   * One statement: every decision claimed on its stream row (only where none was made),
   * and the notifications of the claimed ones inserted. A stream another listener claimed
   * first is simply not returned.
   */
  private async claim(decided: Array<{ stream: Undecided; decision: NotificationDecision }>): Promise<ClaimedRow[]> {
    const values = decided.map(({ stream, decision }) => {
      const label = decision.notify ? 'notified' : decision.reason;
      const text = decision.notify ? notificationText(decision.type, stream.title, stream.answer, stream.errorMessage) : null;
      return Prisma.sql`(${stream.id}::uuid, ${label}::"NotificationDecision", ${decision.notify ? randomUUID() : null}::uuid,
        ${decision.notify ? decision.type : null}::text, ${text?.title ?? null}::text, ${text?.body ?? null}::text)`;
    });
    return this.prisma.$queryRaw<ClaimedRow[]>`
      WITH decided (stream_id, decision, notification_id, type, title, body) AS (VALUES ${Prisma.join(values)}),
      claimed AS (
        UPDATE streams s SET notification_decision = d.decision, notification_decided_at = now()
        FROM decided d WHERE s.id = d.stream_id AND s.notification_decision IS NULL
        RETURNING s.id, s.user_id, s.thread_id
      ), created AS (
        INSERT INTO notifications (id, user_id, thread_id, stream_id, type, title, body)
        SELECT d.notification_id, c.user_id, c.thread_id, c.id, d.type, d.title, d.body
        FROM claimed c JOIN decided d ON d.stream_id = c.id WHERE d.notification_id IS NOT NULL
        RETURNING *
      )
      SELECT c.id AS "claimedStreamId", n.id, n.user_id AS "userId", n.thread_id AS "threadId", n.stream_id AS "streamId",
        n.type, n.title, n.body, n.read_at AS "readAt", n.created_at AS "createdAt"
      FROM claimed c LEFT JOIN created n ON n.stream_id = c.id`;
  }
}

/** Pushes `notification.created` to the user's room, published on Redis as the socket.io emitter would. */
export function roomPusher(publisher: PacketPublisher, socketIoKey: string, logger: Logger): NotificationPusher {
  return {
    push(userId, notification) {
      const { channel, message } = encodeRoomEvent(socketIoKey, rooms.user(userId), EVENTS.notificationCreated, notification);
      // The notification is stored: a lost push still shows in the list and the unread count.
      publisher.publish(channel, message).catch((err: Error) => logger.warn({ userId, notificationId: notification.id, err: err.message }, 'notification push failed'));
    },
  };
}
