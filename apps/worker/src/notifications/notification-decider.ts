import { randomUUID } from 'node:crypto';
import { EVENTS, isTerminalStreamStatus, rooms, type Notification, type StreamStatus, type TerminalStreamStatus } from '@bgs/shared';
import { msAgo, NOTIFICATION_COLUMNS, Prisma, sendPacket, toNotification, type Logger, type NotificationRow, type PacketPublisher, type PresenceStore, type RoomWire, type Sql, type SqlRunner } from '@bgs/server';
import { decideNotification, notificationText, type NotificationDecision } from './notification-decision';

/** Where created notifications are pushed (`notification.created` to the user's room). */
export interface NotificationPusher {
  /** True once Redis accepted the push; false when it failed (logged). Does not reject. */
  push(userId: string, notification: Notification): Promise<boolean>;
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

/** The most notifications one sweep pass pushes again. */
const REPUSH_BATCH = 500;

/**
 * Decides the notifications of ended streams, exactly once across any number of
 * listeners, replays and sweeps, in batches: one read of the streams, one presence read
 * per thread (auto-pipelined into one round trip), and one statement that claims every
 * decision on its stream row and inserts the notifications of the claimed ones (a
 * notification's stream id is unique too). Notifications are pushed after the commit,
 * and those Redis accepted are marked `pushed_at` in one more statement; a push lost
 * with this process (or refused by Redis) is pushed again by the sweep (`pushUnpushed`).
 */
export class NotificationDecider {
  constructor(
    private readonly sql: Sql,
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
    const created: NotificationRow[] = [];
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
      if (row.id) created.push(row);
    }
    await this.pushAndMark(created);
    return results;
  }

  /**
   * The sweep's half of "no push lost": pushes the notifications still unpushed
   * `olderThanMs` after they were created (their listener died between commit and push,
   * or Redis refused the push), oldest first, and marks them. Returns how many it pushed.
   *
   * The rows are claimed by a row lock (`FOR UPDATE SKIP LOCKED`) held across the push
   * and the mark, in one transaction: two sweeps push disjoint rows, and a row is marked
   * only after its push was accepted. A sweep that dies after publishing and before its
   * commit leaves the rows unpushed, and the next sweep pushes them again: at least once,
   * with duplicates only in that window (or from a listener slower than `olderThanMs`
   * between its commit and its mark). Clients de-duplicate by notification id.
   * Costs BEGIN, the claim, the mark and COMMIT (the mark skipped when nothing was pushed).
   */
  async pushUnpushed(olderThanMs: number): Promise<number> {
    return this.sql.transaction(
      async (tx) => {
        const rows = await tx.query<NotificationRow>(Prisma.sql`
          SELECT ${NOTIFICATION_COLUMNS} FROM notifications n
          WHERE n.pushed_at IS NULL AND n.created_at < ${msAgo(olderThanMs)}
          ORDER BY n.created_at LIMIT ${REPUSH_BATCH} FOR UPDATE SKIP LOCKED`);
        const pushed = await this.pushAll(rows);
        if (pushed.length > 0) {
          await this.markPushed(tx, pushed);
          this.logger.info({ notifications: pushed.length, notificationIds: pushed.slice(0, 20) }, 'unpushed notifications pushed by the sweep');
        }
        return pushed.length;
      },
      // The lock lasts one Redis round trip; a push that hangs past this gives the claim back.
      { idleTimeoutMs: 10_000 },
    );
  }

  /** Pushes the notifications just created and marks the ones Redis accepted, in one statement. */
  private async pushAndMark(created: NotificationRow[]): Promise<void> {
    const pushed = await this.pushAll(created);
    if (pushed.length === 0) return;
    try {
      await this.markPushed(this.sql, pushed);
    } catch (err) {
      // Pushed but not marked: the sweep pushes them again (a duplicate the client drops by id).
      this.logger.warn({ notifications: pushed.length, err: (err as Error).message }, 'could not mark notifications pushed; the sweep will push them again');
    }
  }

  /** Pushes every row at once (one round trip when the connection pipelines); the ids Redis accepted. */
  private async pushAll(rows: NotificationRow[]): Promise<string[]> {
    const accepted = await Promise.all(
      rows.map((row) =>
        Promise.resolve()
          .then(() => this.pusher.push(row.userId, toNotification(row)))
          .catch((err: Error) => (this.logger.warn({ notificationId: row.id, err: err.message }, 'notification push failed'), false)),
      ),
    );
    return rows.filter((_, i) => accepted[i]).map((row) => row.id);
  }

  private markPushed(db: SqlRunner, ids: string[]): Promise<number> {
    return db.execute(Prisma.sql`UPDATE notifications SET pushed_at = now() WHERE id = ANY(${ids}::uuid[]) AND pushed_at IS NULL`);
  }

  private decisionOf(stream: Undecided, open: Set<string>): NotificationDecision {
    return decideNotification(stream.status as TerminalStreamStatus, open.has(stream.threadId), stream.muted);
  }

  /** The streams, their threads and answers in one statement. */
  private read(streamIds: readonly string[]): Promise<Undecided[]> {
    return this.sql.query<Undecided>(Prisma.sql`
      SELECT s.id::text AS id, s.status::text AS status, s.notification_decision::text AS "notificationDecision",
        s.thread_id AS "threadId", s.user_id AS "userId", s.error_message AS "errorMessage",
        t.title, t.muted, m.content AS answer
      FROM streams s JOIN threads t ON t.id = s.thread_id JOIN messages m ON m.id = s.message_id
      WHERE s.id = ANY(${[...new Set(streamIds)]}::uuid[])`, 'notification-reads');
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
    const rows = decided.map(({ stream, decision }) => {
      const text = decision.notify ? notificationText(decision.type, stream.title, stream.answer, stream.errorMessage) : null;
      return {
        streamId: stream.id,
        label: decision.notify ? 'notified' : decision.reason,
        notificationId: decision.notify ? randomUUID() : null,
        type: decision.notify ? decision.type : null,
        title: text?.title ?? null,
        body: text?.body ?? null,
      };
    });
    return this.sql.query<ClaimedRow>(Prisma.sql`
      WITH decided (stream_id, decision, notification_id, type, title, body) AS (SELECT * FROM unnest(
        ${rows.map((r) => r.streamId)}::uuid[], ${rows.map((r) => r.label)}::"NotificationDecision"[], ${rows.map((r) => r.notificationId)}::uuid[],
        ${rows.map((r) => r.type)}::text[], ${rows.map((r) => r.title)}::text[], ${rows.map((r) => r.body)}::text[])),
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
      SELECT c.id AS "claimedStreamId", ${NOTIFICATION_COLUMNS}
      FROM claimed c LEFT JOIN created n ON n.stream_id = c.id`, 'notification-claims');
  }
}

/** Pushes `notification.created` to the user's room, published on Redis the way the API instances' adapter reads it. */
export function roomPusher(publisher: PacketPublisher, wire: RoomWire, logger: Logger): NotificationPusher {
  return {
    push(userId, notification) {
      const packet = wire.roomEvent(rooms.user(userId), EVENTS.notificationCreated, notification);
      // A failed push leaves the notification unmarked: the sweep pushes it again.
      return sendPacket(publisher, packet).then(
        () => true,
        (err: Error) => (logger.warn({ userId, notificationId: notification.id, err: err.message }, 'notification push failed'), false),
      );
    },
  };
}
