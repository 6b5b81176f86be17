import { Prisma } from '../db/database';
import type { SqlRunner } from '../db/sql';
import type { ChatTurn } from '../providers/provider';
import { TERMINAL_STATUSES_SQL } from './status-sql';

/** How many earlier messages a generation sees. */
const HISTORY_LIMIT = 50;

/** `started`: the attempt is marked started and this is the conversation to answer. */
export type AttemptStart = { kind: 'started'; history: ChatTurn[] } | { kind: 'ended' } | { kind: 'gone' };

interface Wanted {
  streamId: string;
  attempt: number;
  resolve: (start: AttemptStart) => void;
  reject: (err: unknown) => void;
}

interface StartRow {
  id: string;
  started: boolean;
  found: boolean;
  role: ChatTurn['role'] | null;
  content: string | null;
}

/**
 * Attempt starts, batched: every start asked for in one turn of the event loop (a burst
 * of jobs picked up together) is one statement that marks the streams started and reads
 * each one's history, instead of two statements per stream. A stream that has ended (or
 * whose thread was deleted) is not started.
 */
export class AttemptStarts {
  private wanted: Wanted[] = [];

  constructor(private readonly sql: SqlRunner) {}

  start(streamId: string, attempt: number): Promise<AttemptStart> {
    return new Promise((resolve, reject) => {
      if (this.wanted.length === 0) setImmediate(() => void this.startBatch());
      this.wanted.push({ streamId, attempt, resolve, reject });
    });
  }

  private async startBatch(): Promise<void> {
    const batch = this.wanted;
    this.wanted = [];
    try {
      const rows = await this.query(batch);
      for (const w of batch) w.resolve(startOf(rows.filter((r) => r.id === w.streamId)));
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }

  private query(batch: Wanted[]): Promise<StartRow[]> {
    const values = Prisma.join(batch.map((w) => Prisma.sql`(${w.streamId}::uuid, ${w.attempt}::int)`));
    return this.sql.query<StartRow>(Prisma.sql`
      WITH wanted (id, attempt) AS (VALUES ${values}),
      started AS (
        UPDATE streams s SET status = 'streaming', attempt = w.attempt, started_at = now()
        FROM wanted w WHERE s.id = w.id AND s.status NOT IN (${TERMINAL_STATUSES_SQL})
        RETURNING s.id, s.thread_id, s.message_id
      )
      SELECT w.id::text AS id, st.id IS NOT NULL AS started, ex.id IS NOT NULL AS found, h.role, h.content
      FROM wanted w
      LEFT JOIN started st ON st.id = w.id
      LEFT JOIN streams ex ON ex.id = w.id
      LEFT JOIN LATERAL (
        SELECT m.role::text AS role, m.content, m.created_at, m.id FROM messages m
        WHERE st.id IS NOT NULL AND m.thread_id = st.thread_id AND m.id <> st.message_id
        ORDER BY m.created_at DESC, m.id DESC LIMIT ${HISTORY_LIMIT}
      ) h ON true
      ORDER BY w.id, h.created_at DESC, h.id DESC`);
  }
}

/** One stream's rows (its history newest first, or a single row without one) as its start. */
function startOf(rows: StartRow[]): AttemptStart {
  const [first] = rows;
  if (!first?.started) return first?.found ? { kind: 'ended' } : { kind: 'gone' };
  const history = rows
    .filter((r): r is StartRow & { role: ChatTurn['role']; content: string } => r.role !== null && r.content !== null && r.content !== '')
    .map(({ role, content }) => ({ role, content }))
    .reverse();
  return { kind: 'started', history };
}
