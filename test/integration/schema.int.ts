import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { $Enums, Prisma } from '../../libs/server/src/db/generated/client';
import { applyMigrations, createDatabase } from '@bgs/server';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { testEnv } from '../support/env';

const ROOT = path.resolve(__dirname, '..', '..');
const SCHEMA = path.join(ROOT, 'prisma', 'schema.prisma');
const MIGRATIONS = path.join(ROOT, 'prisma', 'migrations');
const migrationNames = () =>
  fs
    .readdirSync(MIGRATIONS, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();

// ---- the schema as Prisma reads it (DMMF) ----

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'enum' | 'object' | 'unsupported';
  isList: boolean;
  isRequired: boolean;
  hasDefaultValue: boolean;
  isUpdatedAt: boolean;
  type: string;
  nativeType: [string, string[]] | null;
  default?: unknown;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}
interface DmmfEnum {
  name: string;
  dbName: string | null;
  values: Array<{ name: string; dbName: string | null }>;
}
interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  dbName?: string | null;
  fields: Array<{ name: string; sortOrder?: 'asc' | 'desc' }>;
}
interface Datamodel {
  models: DmmfModel[];
  enums: DmmfEnum[];
  indexes: DmmfIndex[];
}

/** A Prisma generator that writes the DMMF it is handed (the JSON-RPC protocol of `prisma generate`). */
const DUMP_GENERATOR = `
const fs = require('node:fs');
const path = require('node:path');
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const request = JSON.parse(line);
  const reply = (result) => process.stderr.write(JSON.stringify({ jsonrpc: '2.0', id: request.id, result }) + '\\n');
  if (request.method === 'getManifest') return reply({ manifest: { prettyName: 'DMMF dump', requiresEngines: [] } });
  if (request.method === 'generate') {
    const out = request.params.generator.output.value;
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'datamodel.json'), JSON.stringify(request.params.dmmf.datamodel));
    return reply(null);
  }
});
`;

/**
 * The full DMMF of a schema text, as `prisma generate` hands it to the client generator
 * (the generated client keeps only a runtime subset, without nullability or native types).
 * Offline: generate needs no schema engine, so any executable stands in for it.
 */
async function datamodelOf(schemaText: string): Promise<Datamodel> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bgs-dmmf-'));
  try {
    fs.writeFileSync(path.join(dir, 'dump-generator.js'), DUMP_GENERATOR);
    const generator = `generator dmmf {\n  provider = ${JSON.stringify(`"${process.execPath}" "${path.join(dir, 'dump-generator.js')}"`)}\n  output   = ${JSON.stringify(path.join(dir, 'out'))}\n}`;
    const withDump = schemaText.replace(/^generator\s+client\s*\{[^}]*\}/m, generator);
    expect(withDump).not.toBe(schemaText);
    fs.writeFileSync(path.join(dir, 'schema.prisma'), withDump);
    await promisify(execFile)(path.join(ROOT, 'node_modules', '.bin', 'prisma'), ['generate', '--schema', path.join(dir, 'schema.prisma')], {
      cwd: dir,
      timeout: 60_000,
      env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true', PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' },
    });
    return JSON.parse(fs.readFileSync(path.join(dir, 'out', 'datamodel.json'), 'utf8')) as Datamodel;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the database as Postgres describes it ----

interface DbColumn {
  table_name: string;
  column_name: string;
  data_type: string;
  udt_name: string;
  is_nullable: 'YES' | 'NO';
  column_default: string | null;
  character_maximum_length: number | null;
  datetime_precision: number | null;
}
interface DbIndex {
  table: string;
  name: string;
  primary: boolean;
  unique: boolean;
  columns: string[];
  descending: boolean[];
}
interface DbForeignKey {
  table: string;
  name: string;
  columns: string[];
  references: string;
  referenced_columns: string[];
  on_delete: string;
  on_update: string;
}
interface DbSnapshot {
  tables: string[];
  columns: DbColumn[];
  enums: Map<string, string[]>;
  indexes: DbIndex[];
  foreignKeys: DbForeignKey[];
}

const RUNNER_TABLE = '_prisma_migrations';

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Tables, columns, enums, indexes and foreign keys of the public schema (the migration runner's own table aside). */
function snapshot(url: string): Promise<DbSnapshot> {
  return withClient(url, async (c) => {
    const tables = await c.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> $1 ORDER BY 1`,
      [RUNNER_TABLE],
    );
    const columns = await c.query<DbColumn>(
      `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, character_maximum_length, datetime_precision
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> $1 ORDER BY table_name, ordinal_position`,
      [RUNNER_TABLE],
    );
    const enums = await c.query<{ name: string; value: string }>(
      `SELECT t.typname AS name, e.enumlabel AS value FROM pg_type t
         JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' ORDER BY t.typname, e.enumsortorder`,
    );
    const indexes = await c.query<DbIndex>(
      `SELECT c.relname AS table, i.relname AS name, ix.indisprimary AS primary, ix.indisunique AS unique,
              array_agg(a.attname::text ORDER BY s) AS columns, array_agg((ix.indoption[s] & 1) = 1 ORDER BY s) AS descending
         FROM pg_index ix
         JOIN pg_class i ON i.oid = ix.indexrelid
         JOIN pg_class c ON c.oid = ix.indrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN LATERAL generate_series(0, ix.indnkeyatts - 1) AS s
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ix.indkey[s]
        WHERE n.nspname = 'public' AND c.relname <> $1
        GROUP BY c.relname, i.relname, ix.indisprimary, ix.indisunique ORDER BY 1, 2`,
      [RUNNER_TABLE],
    );
    const foreignKeys = await c.query<DbForeignKey>(
      `SELECT src.relname AS table, con.conname AS name, dst.relname AS references,
              con.confdeltype::text AS on_delete, con.confupdtype::text AS on_update,
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS columns,
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum) AS referenced_columns
         FROM pg_constraint con
         JOIN pg_class src ON src.oid = con.conrelid
         JOIN pg_class dst ON dst.oid = con.confrelid
         JOIN pg_namespace n ON n.oid = src.relnamespace
        WHERE con.contype = 'f' AND n.nspname = 'public' ORDER BY 1, 2`,
    );
    const enumValues = new Map<string, string[]>();
    for (const { name, value } of enums.rows) enumValues.set(name, [...(enumValues.get(name) ?? []), value]);
    return { tables: tables.rows.map((r) => r.table_name), columns: columns.rows, enums: enumValues, indexes: indexes.rows, foreignKeys: foreignKeys.rows };
  });
}

// ---- the comparison ----

const PG_TYPE: Record<string, string> = {
  String: 'text', Boolean: 'bool', Int: 'int4', BigInt: 'int8', Float: 'float8', Decimal: 'numeric', DateTime: 'timestamp', Json: 'jsonb', Bytes: 'bytea',
};
const PG_NATIVE_TYPE: Record<string, string> = {
  Uuid: 'uuid', Text: 'text', VarChar: 'varchar', Char: 'bpchar', SmallInt: 'int2', Integer: 'int4', BigInt: 'int8', Real: 'float4',
  DoublePrecision: 'float8', Decimal: 'numeric', Timestamptz: 'timestamptz', Timestamp: 'timestamp', Date: 'date', Time: 'time',
  Timetz: 'timetz', Boolean: 'bool', Json: 'json', JsonB: 'jsonb', ByteA: 'bytea', Inet: 'inet', Xml: 'xml',
};
const FK_ACTION: Record<string, string> = { Cascade: 'c', Restrict: 'r', NoAction: 'a', SetNull: 'n', SetDefault: 'd' };
/** Prisma's own defaults (functions it fills in on the client) leave no default in the database. */
const CLIENT_SIDE_DEFAULTS = new Set(['uuid', 'cuid', 'nanoid', 'ulid']);

const tableOf = (m: DmmfModel) => m.dbName ?? m.name;
const columnOf = (f: DmmfField) => f.dbName ?? f.name;
const enumTypeOf = (e: DmmfEnum) => e.dbName ?? e.name;

/** What Postgres reports for a field's column: udt name and, where the type has one, its precision or length. */
function expectedType(field: DmmfField, datamodel: Datamodel): { udt: string; precision?: number; length?: number } {
  const list = field.isList ? '_' : '';
  if (field.kind === 'enum') {
    const e = datamodel.enums.find((x) => x.name === field.type);
    return { udt: list + (e ? enumTypeOf(e) : field.type) };
  }
  if (field.nativeType) {
    const [name, args] = field.nativeType;
    const udt = list + (PG_NATIVE_TYPE[name] ?? name.toLowerCase());
    const arg = args[0] === undefined ? undefined : Number(args[0]);
    if (name === 'VarChar' || name === 'Char') return { udt, length: arg };
    if (['Timestamptz', 'Timestamp', 'Time', 'Timetz'].includes(name)) return { udt, precision: arg ?? 6 };
    return { udt };
  }
  const udt = list + (PG_TYPE[field.type] ?? field.type.toLowerCase());
  return field.type === 'DateTime' ? { udt, precision: 3 } : { udt };
}

/** The column default the migration must have created for a field, as a test. */
function expectedDefault(field: DmmfField, datamodel: Datamodel): ((dbDefault: string | null) => boolean) & { text: string } {
  const is = (text: string, test: (d: string | null) => boolean) => Object.assign(test, { text });
  const d = field.default;
  if (!field.hasDefaultValue || d === undefined || field.isUpdatedAt) return is('no default', (x) => x === null);
  if (typeof d === 'object' && d !== null && 'name' in d) {
    const fn = d as { name: string; args: unknown[] };
    if (CLIENT_SIDE_DEFAULTS.has(fn.name)) return is('no default', (x) => x === null);
    if (fn.name === 'now') return is('CURRENT_TIMESTAMP', (x) => x === 'CURRENT_TIMESTAMP' || x === 'now()');
    if (fn.name === 'autoincrement') return is('nextval(…)', (x) => /^nextval\(/.test(x ?? ''));
    if (fn.name === 'dbgenerated') return is(String(fn.args[0]), (x) => x === String(fn.args[0]));
    return is(`${fn.name}()`, (x) => x !== null);
  }
  if (field.kind === 'enum') {
    const e = datamodel.enums.find((x) => x.name === field.type);
    const value = e?.values.find((v) => v.name === d)?.dbName ?? String(d);
    const text = `'${value}'::"${e ? enumTypeOf(e) : field.type}"`;
    return is(text, (x) => x === text);
  }
  if (typeof d === 'string') {
    const quoted = `'${d.replace(/'/g, "''")}'`;
    return is(`${quoted}::…`, (x) => x === quoted || (x ?? '').startsWith(`${quoted}::`));
  }
  return is(String(d), (x) => x === String(d));
}

/** Prisma's default constraint names (what `prisma migrate` would create and later diff against). */
function defaultIndexName(table: string, type: DmmfIndex['type'], columns: string[]): string | null {
  const name = type === 'id' ? `${table}_pkey` : `${table}_${columns.join('_')}_${type === 'unique' ? 'key' : 'idx'}`;
  return name.length <= 63 ? name : null;
}

/**
 * Every way the migrated database and the Prisma schema disagree, one readable line each;
 * empty when they match.
 */
function schemaDrift(datamodel: Datamodel, db: DbSnapshot): string[] {
  const problems: string[] = [];
  const models = new Map(datamodel.models.map((m) => [m.name, m]));

  // Tables and columns.
  const expectedTables = datamodel.models.map(tableOf).sort();
  for (const t of expectedTables) if (!db.tables.includes(t)) problems.push(`table ${t}: missing in the database`);
  for (const t of db.tables) if (!expectedTables.includes(t)) problems.push(`table ${t}: in the database but not in the schema`);
  for (const model of datamodel.models) {
    const table = tableOf(model);
    if (!db.tables.includes(table)) continue;
    const fields = model.fields.filter((f) => f.kind === 'scalar' || f.kind === 'enum');
    const columns = db.columns.filter((c) => c.table_name === table);
    for (const field of fields) {
      const where = `${table}.${columnOf(field)} (${model.name}.${field.name})`;
      const column = columns.find((c) => c.column_name === columnOf(field));
      if (!column) {
        problems.push(`${where}: no such column`);
        continue;
      }
      const type = expectedType(field, datamodel);
      if (column.udt_name !== type.udt) problems.push(`${where}: type ${column.udt_name}, schema says ${type.udt}`);
      if (type.precision !== undefined && column.datetime_precision !== type.precision) {
        problems.push(`${where}: precision ${column.datetime_precision}, schema says ${type.precision}`);
      }
      if (type.length !== undefined && column.character_maximum_length !== type.length) {
        problems.push(`${where}: length ${column.character_maximum_length}, schema says ${type.length}`);
      }
      const nullable = column.is_nullable === 'YES';
      if (nullable === field.isRequired) problems.push(`${where}: ${nullable ? 'nullable' : 'NOT NULL'}, schema says ${field.isRequired ? 'required' : 'optional'}`);
      const wantedDefault = expectedDefault(field, datamodel);
      if (!wantedDefault(column.column_default)) problems.push(`${where}: default ${column.column_default ?? 'none'}, schema says ${wantedDefault.text}`);
    }
    for (const column of columns) {
      if (!fields.some((f) => columnOf(f) === column.column_name)) problems.push(`${table}.${column.column_name}: in the database but not in the schema`);
    }
  }

  // Enums and their values, in order.
  for (const e of datamodel.enums) {
    const wanted = e.values.map((v) => v.dbName ?? v.name);
    const actual = db.enums.get(enumTypeOf(e));
    if (!actual) problems.push(`enum ${enumTypeOf(e)}: missing in the database`);
    else if (JSON.stringify(actual) !== JSON.stringify(wanted)) problems.push(`enum ${enumTypeOf(e)}: values ${actual.join(', ')}, schema says ${wanted.join(', ')}`);
  }
  for (const name of db.enums.keys()) if (!datamodel.enums.some((e) => enumTypeOf(e) === name)) problems.push(`enum ${name}: in the database but not in the schema`);

  // Primary keys, unique constraints and indexes (columns, order, direction, name).
  const describe = (table: string, kind: string, columns: string[], descending: boolean[]) =>
    `${kind} on ${table}(${columns.map((c, i) => (descending[i] ? `${c} DESC` : c)).join(', ')})`;
  const expectedIndexes = datamodel.indexes.map((ix) => {
    const model = models.get(ix.model) as DmmfModel;
    const table = tableOf(model);
    const columns = ix.fields.map((f) => columnOf(model.fields.find((x) => x.name === f.name) as DmmfField));
    const kind = ix.type === 'id' ? 'primary key' : ix.type === 'unique' ? 'unique index' : 'index';
    return { key: describe(table, kind, columns, ix.fields.map((f) => f.sortOrder === 'desc')), name: ix.dbName ?? defaultIndexName(table, ix.type, columns) };
  });
  const actualIndexes = db.indexes.map((ix) => ({
    key: describe(ix.table, ix.primary ? 'primary key' : ix.unique ? 'unique index' : 'index', ix.columns, ix.descending),
    name: ix.name,
  }));
  for (const ix of expectedIndexes) {
    const found = actualIndexes.find((a) => a.key === ix.key);
    if (!found) problems.push(`${ix.key}: missing in the database`);
    else if (ix.name && found.name !== ix.name) problems.push(`${ix.key}: named ${found.name}, Prisma expects ${ix.name}`);
  }
  for (const ix of actualIndexes) if (!expectedIndexes.some((e) => e.key === ix.key)) problems.push(`${ix.key} (${ix.name}): in the database but not in the schema`);

  // Foreign keys of relations, with their referential actions.
  const describeFk = (table: string, columns: string[], references: string, referenced: string[], onDelete: string, onUpdate: string) =>
    `foreign key ${table}(${columns.join(', ')}) → ${references}(${referenced.join(', ')}) on delete ${onDelete} on update ${onUpdate}`;
  const expectedFks = datamodel.models.flatMap((model) =>
    model.fields
      .filter((f) => f.kind === 'object' && (f.relationFromFields?.length ?? 0) > 0)
      .map((f) => {
        const target = models.get(f.type) as DmmfModel;
        const from = (f.relationFromFields ?? []).map((n) => model.fields.find((x) => x.name === n) as DmmfField);
        const optional = from.some((x) => !x.isRequired);
        const onDelete = FK_ACTION[f.relationOnDelete ?? (optional ? 'SetNull' : 'Restrict')];
        const onUpdate = FK_ACTION[f.relationOnUpdate ?? 'Cascade'];
        const to = (f.relationToFields ?? []).map((n) => columnOf(target.fields.find((x) => x.name === n) as DmmfField));
        return describeFk(tableOf(model), from.map(columnOf), tableOf(target), to, onDelete, onUpdate);
      }),
  );
  const actualFks = db.foreignKeys.map((fk) => describeFk(fk.table, fk.columns, fk.references, fk.referenced_columns, fk.on_delete, fk.on_update));
  for (const fk of expectedFks) if (!actualFks.includes(fk)) problems.push(`${fk}: missing in the database`);
  for (const fk of actualFks) if (!expectedFks.includes(fk)) problems.push(`${fk}: in the database but not in the schema`);

  return problems;
}

// ---- databases of this file's own ----

/** An empty database (no migrations), named like the test databases so a leftover is cleaned up. */
async function createEmptyDatabase(): Promise<TestDatabase> {
  const { pgAdminUrl } = testEnv();
  const name = `bgs_t_${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
  await withClient(pgAdminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(pgAdminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => withClient(pgAdminUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

/** A copy of prisma/migrations to edit. */
function copyOfMigrations(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bgs-migrations-'));
  fs.cpSync(MIGRATIONS, dir, { recursive: true });
  return dir;
}

const tableExists = (url: string, table: string) =>
  withClient(url, async (c) => (await c.query(`SELECT to_regclass($1) AS t`, [`public."${table}"`])).rows[0].t !== null);

const appliedRows = (url: string) =>
  withClient(url, async (c) => (await c.query(`SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" ORDER BY migration_name`)).rows);

describe('the database schema', () => {
  const databases: TestDatabase[] = [];
  const tempDirs: string[] = [];
  let migrated: TestDatabase;
  let firstRun: Awaited<ReturnType<typeof applyMigrations>>;
  let datamodel: Datamodel;
  const schemaText = fs.readFileSync(SCHEMA, 'utf8');

  const track = <T extends TestDatabase>(db: T) => (databases.push(db), db);
  const tempCopy = () => {
    const dir = copyOfMigrations();
    tempDirs.push(dir);
    return dir;
  };

  beforeAll(async () => {
    [datamodel, migrated] = await Promise.all([datamodelOf(schemaText), createEmptyDatabase().then(track)]);
    firstRun = await applyMigrations(migrated.url, MIGRATIONS);
  });
  afterAll(async () => {
    await Promise.all(databases.map((db) => db.drop()));
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('applies every migration to an empty database, in order', () => {
    expect(migrationNames().length).toBeGreaterThan(0);
    expect(firstRun).toEqual({ applied: migrationNames(), alreadyApplied: [] });
  });

  it('the generated Prisma client is built from prisma/schema.prisma (regenerate it after editing the schema)', () => {
    expect(Object.keys(Prisma.ModelName).sort()).toEqual(datamodel.models.map((m) => m.name).sort());
    for (const model of datamodel.models) {
      const exported = (Prisma as unknown as Record<string, Record<string, string> | undefined>)[`${model.name}ScalarFieldEnum`];
      const scalarFields = model.fields.filter((f) => f.kind === 'scalar' || f.kind === 'enum').map((f) => f.name);
      expect({ model: model.name, fields: Object.keys(exported ?? {}) }).toEqual({ model: model.name, fields: scalarFields });
    }
    const clientEnums = Object.fromEntries(Object.entries($Enums).map(([name, values]) => [name, Object.values(values as Record<string, string>)]));
    expect(clientEnums).toEqual(Object.fromEntries(datamodel.enums.map((e) => [e.name, e.values.map((v) => v.name)])));
  });

  it('the migrated database matches the schema: tables, columns, types, nullability, defaults, enums, indexes, foreign keys', async () => {
    expect(schemaDrift(datamodel, await snapshot(migrated.url))).toEqual([]);
  });

  it('catches a schema edited without a migration', async () => {
    const edited = schemaText
      .replace(/(\n\s+muted\s+Boolean\s+@default\(false\))/, '$1\n  pinned Boolean @default(false)')
      .replace(/(\n\s+title\s+)String(\n)/, '$1String?$2')
      .replace(/(enum StreamStatus \{[^}]*?)(\n\})/, '$1\n  expired$2')
      .replace(/(\n\s+@@index\(\[userId, readAt\]\))/, '$1\n  @@unique([threadId, type])')
      .replace('version        Int           @default(1)', 'version        Int           @default(2)');
    const drift = schemaDrift(await datamodelOf(edited), await snapshot(migrated.url));
    expect(drift).toEqual(
      expect.arrayContaining([
        'threads.pinned (Thread.pinned): no such column',
        'threads.title (Thread.title): NOT NULL, schema says optional',
        'enum StreamStatus: values queued, streaming, completed, failed, cancelled, schema says queued, streaming, completed, failed, cancelled, expired',
        'unique index on notifications(thread_id, type): missing in the database',
        'messages.version (Message.version): default 1, schema says 2',
      ]),
    );
    expect(drift).toHaveLength(5);
  });

  it('the generated client reads and writes every model of the migrated database', async () => {
    const db = createDatabase(migrated.url, { max: 2 });
    try {
      const { prisma } = db;
      const userId = `schema-${randomUUID()}`;
      const [threadId, userMessageId, assistantId, streamId] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      await prisma.user.create({ data: { id: userId } });
      await prisma.thread.create({ data: { id: threadId, userId, title: 'Schema check', activeStreamId: streamId } });
      await prisma.message.create({ data: { id: userMessageId, threadId, role: 'user', content: 'hello', status: 'complete', idempotencyKey: 'k1' } });
      await prisma.message.create({ data: { id: assistantId, threadId, role: 'assistant', content: '', status: 'streaming', streamId } });
      await prisma.stream.create({
        data: { id: streamId, threadId, messageId: assistantId, userMessageId, userId, model: 'simulated-1', notificationDecision: 'skipped_open', errorCode: 'x', startedAt: new Date() },
      });
      await prisma.notification.create({ data: { id: randomUUID(), userId, threadId, streamId, type: 'ai.message.received', title: 't', body: 'b' } });

      const stream = await prisma.stream.findUniqueOrThrow({ where: { id: streamId } });
      expect(stream).toEqual(expect.objectContaining({ status: 'queued', attempt: 0, seq: 0, notificationDecision: 'skipped_open', endedAt: null }));
      const thread = await prisma.thread.findUniqueOrThrow({ where: { id: threadId }, include: { messages: true, streams: true, notifications: true, user: true } });
      expect(thread).toEqual(expect.objectContaining({ muted: false, activeStreamId: streamId }));
      expect([thread.messages.length, thread.streams.length, thread.notifications.length]).toEqual([2, 1, 1]);
      expect(thread.messages.find((m) => m.id === userMessageId)).toEqual(expect.objectContaining({ version: 1, idempotencyKey: 'k1' }));

      // The unique constraints the product relies on hold.
      await expect(prisma.notification.create({ data: { id: randomUUID(), userId, threadId, streamId, type: 'x', title: 't', body: 'b' } })).rejects.toThrow();
      await expect(
        prisma.message.create({ data: { id: randomUUID(), threadId, role: 'user', content: 'again', status: 'complete', idempotencyKey: 'k1' } }),
      ).rejects.toThrow();
      // Deleting the user cascades to everything of theirs.
      await prisma.user.delete({ where: { id: userId } });
      expect(await prisma.stream.count({ where: { threadId } })).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('applying the migrations again is a no-op', async () => {
    const before = { schema: await snapshot(migrated.url), rows: await appliedRows(migrated.url) };
    expect(await applyMigrations(migrated.url, MIGRATIONS)).toEqual({ applied: [], alreadyApplied: migrationNames() });
    expect({ schema: await snapshot(migrated.url), rows: await appliedRows(migrated.url) }).toEqual(before);
  });

  it('the test template (migrated by `npm test`) holds the same migrations, checksums included', async () => {
    const clone = track(await createTestDatabase());
    expect(await applyMigrations(clone.url, MIGRATIONS)).toEqual({ applied: [], alreadyApplied: migrationNames() });
  });

  it('refuses a migration edited after it was applied, and runs none of it', async () => {
    const clone = track(await createTestDatabase());
    const dir = tempCopy();
    const [first] = migrationNames();
    fs.appendFileSync(path.join(dir, first, 'migration.sql'), '\nCREATE TABLE "sneaky" ("id" INTEGER);\n');
    await expect(applyMigrations(clone.url, dir)).rejects.toThrow(`migration ${first} was edited after it was applied`);
    expect(await tableExists(clone.url, 'sneaky')).toBe(false);
  });

  it('a failing migration leaves nothing behind, and applies once fixed', async () => {
    const clone = track(await createTestDatabase());
    const dir = tempCopy();
    const name = '99990101000000_later_change';
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, 'migration.sql'), 'CREATE TABLE "half_done" ("id" INTEGER);\nSELECT 1 / 0;\n');
    await expect(applyMigrations(clone.url, dir)).rejects.toThrow(`migration ${name} failed: division by zero`);
    expect(await tableExists(clone.url, 'half_done')).toBe(false);
    expect((await appliedRows(clone.url)).map((r) => r.migration_name)).toEqual(migrationNames());

    fs.writeFileSync(path.join(dir, name, 'migration.sql'), 'CREATE TABLE "half_done" ("id" INTEGER);\n');
    expect(await applyMigrations(clone.url, dir)).toEqual({ applied: [name], alreadyApplied: migrationNames() });
    expect(await tableExists(clone.url, 'half_done')).toBe(true);
    // A migration the schema does not know of is drift too.
    expect(schemaDrift(datamodel, await snapshot(clone.url))).toEqual([
      'table half_done: in the database but not in the schema',
    ]);
  });

  it('two processes migrating at once apply each migration exactly once', async () => {
    const empty = track(await createEmptyDatabase());
    const runs = await Promise.all([applyMigrations(empty.url, MIGRATIONS), applyMigrations(empty.url, MIGRATIONS)]);
    expect(runs.flatMap((r) => r.applied).sort()).toEqual(migrationNames());
    expect(runs.flatMap((r) => r.alreadyApplied).sort()).toEqual(migrationNames());
    expect((await appliedRows(empty.url)).map((r) => r.migration_name)).toEqual(migrationNames());
    expect(schemaDrift(datamodel, await snapshot(empty.url))).toEqual([]);
  });
});
