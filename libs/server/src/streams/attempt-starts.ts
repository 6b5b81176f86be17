import { Prisma } from '../db/database';
import { groupCommit } from '../db/group-commit';
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
}

interface StartRow {
  id: string;
  started: boolean;
  found: boolean;
  role: ChatTurn['role'] | null;
  content: string | null;
}

/**
 * Attempt starts, batched (group commit): the starts asked for together (a burst of jobs
 * picked up at once) are one statement that marks the streams started and reads each
 * one's history, instead of two statements per stream. A stream that has ended (or
 * whose thread was deleted) is not started.
 */
export class AttemptStarts {
  private readonly startTogether = groupCommit((batch: Wanted[]) => this.startBatch(batch), { maxBatch: 200, concurrency: 2 });

  constructor(private readonly sql: SqlRunner) {}

  start(streamId: string, attempt: number): Promise<AttemptStart> {
    return this.startTogether({ streamId, attempt });
  }

  private async startBatch(batch: Wanted[]): Promise<AttemptStart[]> {
    const byStream = new Map<string, StartRow[]>();
    for (const row of await this.query(batch)) {
      const rows = byStream.get(row.id);
      if (rows) rows.push(row);
      else byStream.set(row.id, [row]);
    }
    return batch.map((w) => startOf(byStream.get(w.streamId) ?? []));
  }

  private query(batch: Wanted[]): Promise<StartRow[]> {
    const ids = batch.map((w) => w.streamId);
    const attempts = batch.map((w) => w.attempt);
    return this.sql.query<StartRow>(Prisma.sql`
      WITH wanted (id, attempt) AS (SELECT * FROM unnest(${ids}::uuid[], ${attempts}::int[])),
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
      ORDER BY w.id, h.created_at DESC, h.id DESC`, 'attempt-starts');
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
