/**
 * The run's template database (test/run.ts): migrated once, copied by every test database
 * (test/helpers/db.ts). Migrating each file's database again cost ~0.5-0.9 s a file on this
 * 2-core machine; a copy of the migrated template costs less, and the migrations still run
 * from an empty database once per run, on every server the suite runs on.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../../src/lib/logger.js';
import { migrate } from '../../src/db/migrate.js';
import { withAdminClient } from './db.js';

export interface TemplateDatabase {
  name: string;
  serverUrl: string;
}

export async function migratedTemplateDatabase(serverUrl: string, log: Logger): Promise<TemplateDatabase> {
  const name = `bh_template_${randomBytes(6).toString('hex')}`;
  await withAdminClient(serverUrl, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  try {
    await migrate(pool, log);
  } finally {
    // No session may stay connected to a template while it is copied.
    await pool.end();
  }
  return { name, serverUrl };
}

export async function dropTemplateDatabase(t: TemplateDatabase): Promise<void> {
  await withAdminClient(t.serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(t.name)} WITH (FORCE)`));
}
