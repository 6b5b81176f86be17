import { z } from 'zod';

/**
 * Request schemas, validated at the edges (REST bodies and queries, socket payloads).
 * Kept apart from the types so browser code that needs only the types never loads zod.
 */

// Strict objects: unknown fields are refused.
export const idSchema = z.string().uuid({ message: 'must be a UUID' });
/**
 * A thread id: ours are UUIDs; an AI SDK chat names its own (`useChat` ids), and
 * `POST /api/chat` creates the thread under that id.
 */
export const threadIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, "_" or "-"');
/** Text that is stored in Postgres, which cannot hold NUL characters in `text` columns (a 500 otherwise). */
const storedText = () => z.string().trim().regex(/^[^\u0000]*$/, 'must not contain NUL (\\u0000) characters');
export const titleSchema = storedText().min(1).max(200);

export const createThreadBody = z.strictObject({ title: titleSchema.optional() });
export const patchThreadBody = z
  .strictObject({ title: titleSchema.optional(), muted: z.boolean().optional() })
  .refine((b) => b.title !== undefined || b.muted !== undefined, { message: 'nothing to change: give title or muted' });

const limit = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);
/** Opaque cursors are base64url JSON; their shape is checked where they are decoded. */
export const cursorSchema = z.string().min(1).max(512).regex(/^[A-Za-z0-9_-]+$/, 'malformed cursor');

export const listThreadsQuery = z.strictObject({ limit: limit(100, 20), cursor: cursorSchema.optional() });
export const listMessagesQuery = z.strictObject({ limit: limit(200, 50), before: idSchema.optional() });
export const listNotificationsQuery = z.strictObject({
  unread: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  limit: limit(100, 20),
  cursor: cursorSchema.optional(),
});

export const modelSchema = z.string().trim().min(1).max(100).regex(/^[\w.:/-]+$/, 'unexpected characters in model');
export const sendMessageBody = (maxChars: number) =>
  z.strictObject({ content: storedText().min(1).max(maxChars), model: modelSchema.optional() });
export const idempotencyKeySchema = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII only');

export const devTokenBody = z.strictObject({
  userId: z.string().min(1).max(200).regex(/^[\w.@-]+$/),
  /** Seconds the token is valid (default 24 hours): short ones let a client try token expiry. */
  expiresInS: z.number().int().min(1).max(86_400).optional(),
});

/** `thread.open` / `thread.close` payload. */
export const threadRefPayload = z.strictObject({ threadId: threadIdSchema });
