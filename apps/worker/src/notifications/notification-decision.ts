import type { NotificationType, TerminalStreamStatus } from '@bgs/shared';

export type SkipReason = 'skipped_open' | 'skipped_muted' | 'skipped_cancelled';
export type NotificationDecision = { notify: true; type: NotificationType } | { notify: false; reason: SkipReason };

/**
 * The table of docs/protocol.md#notifications: a completion notifies when the thread is closed and not muted;
 * a final failure notifies when the thread is closed, muted or not; a cancellation never.
 */
export function decideNotification(outcome: TerminalStreamStatus, threadOpen: boolean, muted: boolean): NotificationDecision {
  if (outcome === 'cancelled') return { notify: false, reason: 'skipped_cancelled' };
  if (threadOpen) return { notify: false, reason: 'skipped_open' };
  if (outcome === 'completed') return muted ? { notify: false, reason: 'skipped_muted' } : { notify: true, type: 'ai.message.received' };
  return { notify: true, type: 'system.warning' };
}

const BODY_CHARS = 140;

/** Title and body a user reads: the thread's title, then the answer's start or the failure's reason. */
export function notificationText(type: NotificationType, threadTitle: string, answer: string, failure: string | null): { title: string; body: string } {
  if (type === 'ai.message.received') return { title: threadTitle, body: excerpt(answer) || 'Your answer is ready.' };
  return { title: threadTitle, body: `The answer could not be completed: ${excerpt(failure ?? '') || 'unknown error'}` };
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= BODY_CHARS ? flat : `${flat.slice(0, BODY_CHARS - 1).trimEnd()}…`;
}
