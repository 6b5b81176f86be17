import { TERMINAL_STREAM_STATUSES } from '@bgs/shared';
import { Prisma } from '../db/database';

/** The terminal stream statuses as a SQL list (`status NOT IN (…)`), from their one constant. */
export const TERMINAL_STATUSES_SQL = Prisma.join(TERMINAL_STREAM_STATUSES.map((s) => Prisma.sql`${s}::"StreamStatus"`));
