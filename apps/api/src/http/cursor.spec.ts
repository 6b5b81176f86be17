import { ApiError } from '@bgs/shared';
import { decodeCursor, encodeCursor, olderThan, page } from './cursor';

const ID = '6f1c1f39-2b7e-4c43-9a41-0b0f3f3c6a11';
const b64 = (text: string) => Buffer.from(text).toString('base64url');

describe('cursors', () => {
  it('round-trips the position of the last item, to the millisecond', () => {
    const at = new Date('2026-11-25T10:11:12.345Z');
    const cursor = encodeCursor(at, ID);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual({ at, id: ID });
  });

  it('no cursor means the first page', () => {
    expect(decodeCursor(undefined)).toBeNull();
  });

  it.each([
    ['not base64 JSON', 'garbage'],
    ['an empty string', ''],
    ['JSON that is not an object', b64('42')],
    ['JSON null', b64('null')],
    ['a missing id', b64(JSON.stringify({ at: '2026-11-25T10:11:12.345Z' }))],
    ['an id that is not a UUID', b64(JSON.stringify({ at: '2026-11-25T10:11:12.345Z', id: '1 OR 1=1' }))],
    ['a date that is not a date', b64(JSON.stringify({ at: 'yesterday', id: ID }))],
    ['a number as the date', b64(JSON.stringify({ at: 1764065472345, id: ID }))],
    ['an extra field', b64(JSON.stringify({ at: '2026-11-25T10:11:12.345Z', id: ID, userId: 'mallory' }))],
    ['truncated', encodeCursor(new Date(), ID).slice(0, 20)],
  ])('a cursor with %s is a 400 invalid_request', (_name, raw) => {
    let thrown: unknown;
    try {
      decodeCursor(raw);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    expect((thrown as ApiError).status).toBe(400);
    expect((thrown as ApiError).toBody()).toEqual({
      error: { code: 'invalid_request', message: 'malformed cursor', details: [{ path: 'cursor', message: expect.any(String) }] },
    });
  });
});

describe('page', () => {
  const rows = Array.from({ length: 5 }, (_, i) => ({ id: `id-${i}`, at: new Date(Date.UTC(2026, 0, 1, 0, 0, 5 - i)) }));

  it('a full page plus one row gives a cursor at the last row kept', () => {
    const result = page(rows, 4, (r) => r.at);
    expect(result.rows).toEqual(rows.slice(0, 4));
    expect(result.nextCursor).toBe(encodeCursor(rows[3].at, rows[3].id));
  });

  it.each([5, 6, 100])('with limit %i there is no next page', (limit) => {
    expect(page(rows, limit, (r) => r.at)).toEqual({ rows, nextCursor: null });
  });

  it('an empty list has no next page', () => {
    expect(page([], 20, () => new Date())).toEqual({ rows: [], nextCursor: null });
  });
});

describe('olderThan', () => {
  it('no cursor adds no condition', () => {
    expect(olderThan(null, 'updatedAt')).toEqual({});
  });

  it('breaks ties on the timestamp by id, so rows sharing a timestamp are neither skipped nor repeated', () => {
    const at = new Date('2026-11-25T10:11:12.345Z');
    expect(olderThan({ at, id: ID }, 'createdAt')).toEqual({ OR: [{ createdAt: { lt: at } }, { createdAt: at, id: { lt: ID } }] });
  });
});
