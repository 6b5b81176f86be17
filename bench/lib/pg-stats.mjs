// Postgres statements of one database, from pg_stat_statements (the cluster is started with
// shared_preload_libraries=pg_stat_statements by scripts/lib/services.mjs).

/** Installs the view in the bench database; the counters are cluster-wide, filtered by dbid. */
export async function enableStatements(client) {
  await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
}

async function dbid(client) {
  const { rows } = await client.query('SELECT oid FROM pg_database WHERE datname = current_database()');
  return rows[0].oid;
}

/** Zeroes the counters of this database only (other databases keep theirs). */
export async function resetStatements(client) {
  await client.query('SELECT pg_stat_statements_reset(0, $1, 0)', [await dbid(client)]);
}

/** [{query, calls}] of this database since the last reset, the benchmark's own reads left out. */
export async function statements(client) {
  const { rows } = await client.query(
    `SELECT query, calls::bigint AS calls FROM pg_stat_statements
     WHERE dbid = $1 AND query NOT ILIKE '%pg_stat_statements%' AND query NOT ILIKE '%pg_database%'
     ORDER BY calls DESC`,
    [await dbid(client)],
  );
  return rows.map((r) => ({ query: r.query.replace(/\s+/g, ' ').slice(0, 140), calls: Number(r.calls) }));
}

export const totalStatements = (rows) => rows.reduce((a, r) => a + r.calls, 0);
