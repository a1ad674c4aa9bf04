/**
 * Dialect wiring: SQLite (better-sqlite3) is the embedded default; PostgreSQL is shared by replicas.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import { CachedSqliteDialect } from './sqlite-driver.js';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations.js';

export type StoreTarget =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; schema?: string; poolSize?: number };

export interface OpenedDb {
  db: Kysely<Database>;
  kind: StoreTarget['kind'];
  close(): Promise<void>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function openDatabase(target: StoreTarget): Promise<OpenedDb> {
  if (target.kind === 'sqlite') {
    if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
    const database = new SqliteDatabase(target.path);
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('foreign_keys = ON');
    database.pragma('busy_timeout = 5000');
    const db = new Kysely<Database>({ dialect: new CachedSqliteDialect(database) });
    await migrate(db, undefined);
    return { db, kind: 'sqlite', close: () => db.destroy() };
  }
  if (target.schema !== undefined && !SCHEMA_NAME.test(target.schema)) {
    throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(target.schema)}`);
  }
  if (target.schema) {
    // Create the schema with a short-lived client before the pool pins search_path to it.
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${target.schema}"`);
    } finally {
      await client.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: target.url,
    max: target.poolSize ?? 10,
    ...(target.schema ? { options: `-c search_path="${target.schema}"` } : {}),
    types: {
      // int8 columns hold counters and durations well inside 2^53; read them as numbers.
      getTypeParser: ((oid: number, format?: string) =>
        oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  // Kysely's Migrator looks for its tables in every schema unless told which one: another schema
  // holding tailnetd tables (another deployment, a parallel test) would make it skip creating ours.
  const current = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  await migrate(db, current.rows[0]?.schema ?? target.schema ?? 'public');
  return { db, kind: 'postgres', close: () => db.destroy() };
}

async function migrate(db: Kysely<Database>, schema: string | undefined): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    migrationTableName: 'tailnetd_migrations',
    migrationLockTableName: 'tailnetd_migrations_lock',
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
}

/** Cheap liveness probe for /readyz. */
export async function ping(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}
