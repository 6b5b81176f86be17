import { Prisma } from '../db/database';

/** A streams row (alias `s`) with its columns named as `StreamRow` names them. */
export const STREAM_COLUMNS = Prisma.sql`s.id, s.thread_id AS "threadId", s.message_id AS "messageId", s.user_message_id AS "userMessageId",
  s.user_id AS "userId", s.model, s.status::text AS status, s.attempt, s.seq, s.error_code AS "errorCode",
  s.error_message AS "errorMessage", s.created_at AS "createdAt", s.started_at AS "startedAt", s.ended_at AS "endedAt",
  s.notification_decision::text AS "notificationDecision", s.notification_decided_at AS "notificationDecidedAt"`;

/** A messages row (alias `m`) with its columns named as `MessageRow` names them. */
export const MESSAGE_COLUMNS = Prisma.sql`m.id, m.thread_id AS "threadId", m.role::text AS role, m.status::text AS status, m.content,
  m.stream_id AS "streamId", m.version, m.idempotency_key AS "idempotencyKey", m.created_at AS "createdAt"`;

/** A threads row (alias `t`) with its columns named as `ThreadRow` names them. */
export const THREAD_COLUMNS = Prisma.sql`t.id, t.user_id AS "userId", t.title, t.muted, t.active_stream_id AS "activeStreamId",
  t.created_at AS "createdAt", t.updated_at AS "updatedAt"`;

/** A notifications row (alias `n`) with its columns named as `NotificationRow` names them. */
export const NOTIFICATION_COLUMNS = Prisma.sql`n.id, n.user_id AS "userId", n.thread_id AS "threadId", n.stream_id AS "streamId",
  n.type, n.title, n.body, n.read_at AS "readAt", n.created_at AS "createdAt", n.pushed_at AS "pushedAt"`;
