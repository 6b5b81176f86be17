import { z } from 'zod';
import { ApiError } from '@bgs/shared';

/** A keyset position: the sort timestamp and id of the last item of a page. */
export interface Cursor {
  at: Date;
  id: string;
}

const shape = z.strictObject({ at: z.string().datetime(), id: z.string().uuid() });

export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify({ at: at.toISOString(), id })).toString('base64url');
}

/** Opaque to clients; a cursor that was not made here is a 400, not a 500. */
export function decodeCursor(raw: string | undefined): Cursor | null {
  if (raw === undefined) return null;
  try {
    const parsed = shape.parse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
    return { at: new Date(parsed.at), id: parsed.id };
  } catch {
    throw new ApiError('invalid_request', 'malformed cursor', [{ path: 'cursor', message: 'not a cursor returned by this API' }]);
  }
}

/** Keyset condition for "older than the cursor" in (at desc, id desc) order. */
export function olderThan(cursor: Cursor | null, field: 'updatedAt' | 'createdAt') {
  if (!cursor) return {};
  return { OR: [{ [field]: { lt: cursor.at } }, { [field]: cursor.at, id: { lt: cursor.id } }] };
}

/** Takes `limit + 1` rows and turns the extra one into `nextCursor`. */
export function page<T extends { id: string }>(rows: T[], limit: number, at: (row: T) => Date): { rows: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows, nextCursor: null };
  const kept = rows.slice(0, limit);
  const last = kept[kept.length - 1];
  return { rows: kept, nextCursor: encodeCursor(at(last), last.id) };
}
