/**
 * Store backends every store- and API-level suite runs against. PostgreSQL tests each take
 * their own schema (dropped afterwards), so files run in parallel and twice in a row.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_URL = process.env['TAILNETD_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export type BackendName = 'sqlite' | 'postgres';
export const BACKENDS: BackendName[] = ['sqlite', 'postgres'];

export interface BackendHandle {
  name: BackendName;
  /** For App config: dataDir always; postgresUrl/postgresSchema for PostgreSQL. */
  dataDir: string;
  postgresUrl?: string;
  postgresSchema?: string;
  cleanup(): Promise<void>;
}

export async function createBackend(name: BackendName): Promise<BackendHandle> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tailnetd-test-'));
  if (name === 'sqlite') {
    return { name, dataDir, cleanup: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  return {
    name,
    dataDir,
    postgresUrl: POSTGRES_URL,
    postgresSchema: schema,
    cleanup: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
