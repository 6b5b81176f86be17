import type { RequestHandler, Response } from 'express';
import type { PrismaClient } from '@bgs/server';
import { bearerToken, verifyToken } from './tokens';

/**
 * Creates a user row the first time a user id is seen. Remembers the ids it has
 * ensured so an authenticated request costs no query (bounded; cleared when full).
 */
export class UserRegistry {
  private readonly known = new Set<string>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly capacity = 50_000,
  ) {}

  async ensure(userId: string): Promise<void> {
    if (this.known.has(userId)) return;
    // INSERT … ON CONFLICT DO NOTHING: a new user's first requests often arrive together
    // (page load, socket connect, several API instances), and an upsert races with itself.
    await this.prisma.user.createMany({ data: [{ id: userId }], skipDuplicates: true });
    if (this.known.size >= this.capacity) this.known.clear();
    this.known.add(userId);
  }
}

/** REST auth: `Authorization: Bearer <JWT>`; the user id lands in `res.locals.userId`. */
export function requireUser(secret: string, users: UserRegistry): RequestHandler {
  return async (req, res, next) => {
    const userId = verifyToken(bearerToken(req.headers.authorization), secret);
    await users.ensure(userId);
    res.locals.userId = userId;
    next();
  };
}

export function userIdOf(res: Response): string {
  return res.locals.userId as string;
}
