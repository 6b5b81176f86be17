import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { ApiError } from '@bgs/shared';

const USER_ID = /^[\w.@:-]{1,200}$/;

// Building the key from the secret string on every call cost ~6% of the API's CPU under load.
let cachedKey: { secret: string; key: KeyObject } | null = null;
function keyFor(secret: string): KeyObject {
  if (cachedKey?.secret !== secret) cachedKey = { secret, key: createSecretKey(Buffer.from(secret, 'utf8')) };
  return cachedKey.key;
}

/** What a verified token says: who, and until when (ms since the epoch; absent when it has no `exp`). */
export interface TokenClaims {
  userId: string;
  expiresAt?: number;
}

/** Verifies an HS256 JWT and returns its `sub`, the user id. Any problem is a 401. */
export function verifyToken(token: string | undefined, secret: string): string {
  return verifyTokenClaims(token, secret).userId;
}

/** `verifyToken`, also returning the token's expiry: a socket is disconnected when its token expires. */
export function verifyTokenClaims(token: string | undefined, secret: string): TokenClaims {
  if (!token) throw new ApiError('unauthorized', 'missing bearer token');
  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, keyFor(secret), { algorithms: ['HS256'] });
  } catch (err) {
    const reason = err instanceof jwt.TokenExpiredError ? 'token expired' : 'invalid token';
    throw new ApiError('unauthorized', reason);
  }
  const sub = typeof payload === 'object' ? payload.sub : undefined;
  if (typeof sub !== 'string' || !USER_ID.test(sub)) throw new ApiError('unauthorized', 'token has no valid sub');
  // jsonwebtoken has already refused an `exp` that is not a number.
  const exp = typeof payload === 'object' ? payload.exp : undefined;
  return typeof exp === 'number' ? { userId: sub, expiresAt: exp * 1000 } : { userId: sub };
}

/** Signs a token for `userId` (dev tokens and tests), valid `expiresInSeconds` (24 hours by default). */
export function signToken(userId: string, secret: string, expiresInSeconds = 24 * 3600): string {
  return jwt.sign({ sub: userId }, secret, { algorithm: 'HS256', expiresIn: expiresInSeconds });
}

/** `Authorization: Bearer <token>` → the token. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
