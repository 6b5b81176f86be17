import { randomUUID } from 'node:crypto';
import { EVENTS, isTerminalStreamStatus, rooms, type Notification } from '@bgs/shared';
import { encodeRoomEvent, toNotification, type Logger, type PacketPublisher, type PresenceStore, type PrismaClient } from '@bgs/server';
import { decideNotification, notificationText } from './notification-decision';

/** Where created notifications are pushed (`notification.created` to the user's room). */
export interface NotificationPusher {
  push(userId: string, notification: Notification): void;
}

export type DecideResult = 'notified' | 'skipped' | 'already-decided' | 'not-ended' | 'gone';

/** Who asked for the decision: the event listener or the sweep (logged, so catch-up is visible). */
export type DecisionSource = 'event' | 'sweep';

/**
 * Decides the notification of one ended stream, exactly once across any number of
 * listeners, replays and sweeps: the decision is claimed on the stream row and the
 * notification inserted in the same transaction (its stream id is unique too).
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
    const stream = await this.prisma.stream.findUnique({
      where: { id: streamId },
      select: { status: true, notificationDecision: true, threadId: true, userId: true, messageId: true, errorMessage: true, thread: { select: { title: true, muted: true } } },
    });
    if (!stream) return 'gone';
    if (stream.notificationDecision) return 'already-decided';
    if (!isTerminalStreamStatus(stream.status)) return 'not-ended';

    const open = stream.status === 'cancelled' ? false : await this.presence.isOpen(stream.threadId);
    const decision = decideNotification(stream.status, open, stream.thread.muted);
    const created = await this.prisma.$transaction(async (tx) => {
      const claim = await tx.stream.updateMany({
        where: { id: streamId, notificationDecision: null },
        data: { notificationDecision: decision.notify ? 'notified' : decision.reason, notificationDecidedAt: new Date() },
      });
      if (claim.count === 0 || !decision.notify) return claim.count === 0 ? 'lost-claim' : null;
      const answer = decision.type === 'ai.message.received' ? await tx.message.findUnique({ where: { id: stream.messageId }, select: { content: true } }) : null;
      const text = notificationText(decision.type, stream.thread.title, answer?.content ?? '', stream.errorMessage);
      return tx.notification.create({
        data: { id: randomUUID(), userId: stream.userId, threadId: stream.threadId, streamId, type: decision.type, ...text },
      });
    });
    if (created === 'lost-claim') return 'already-decided';
    const label = decision.notify ? decision.type : decision.reason;
    this.onDecision?.(label);
    this.logger.info({ streamId, threadId: stream.threadId, outcome: stream.status, threadOpen: open, muted: stream.thread.muted, decision: label, via }, 'notification decided');
    if (!created) return 'skipped';
    this.pusher.push(stream.userId, toNotification(created));
    return 'notified';
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
