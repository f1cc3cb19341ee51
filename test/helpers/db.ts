/**
 * One database per test file, on the server test/run.ts provides through DATABASE_URL (its own
 * embedded PostgreSQL, or an external server when DATABASE_URL was already set).
 *
 * test/run.ts migrates one template database per run and names it in BULKHEAD_TEST_TEMPLATE;
 * each database here is a copy of it (CREATE DATABASE … TEMPLATE), already migrated, instead of
 * an empty one that every file migrates again: the harness's migrate() then finds nothing to do.
 * Run without test/run.ts (or with `{ empty: true }`), a database starts empty.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestDatabase {
  url: string;
  /** Drops the database, terminating connections still open (WITH (FORCE), PostgreSQL ≥ 13). Idempotent. */
  drop(): Promise<void>;
}

export async function createTestDatabase(opts: { empty?: boolean } = {}): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    throw new Error('DATABASE_URL is not set: run tests through `npm test` / test/run.ts, which provides a PostgreSQL server');
  }
  const name = `bh_test_${randomBytes(6).toString('hex')}`;
  const template = opts.empty ? undefined : process.env.BULKHEAD_TEST_TEMPLATE;
  await withAdminClient(serverUrl, (client) => client.query(
    `CREATE DATABASE ${client.escapeIdentifier(name)}${template ? ` TEMPLATE ${client.escapeIdentifier(template)}` : ''}`,
  ));

  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let dropping: Promise<void> | undefined;
  return {
    url: url.toString(),
    // End your pools first: FORCE kills their connections and pg.Pool emits 'error' for idle ones.
    drop: () => (dropping ??= withAdminClient(serverUrl, async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
    })),
  };
}

/** One short-lived connection to the server (CREATE / DROP DATABASE cannot run in a pooled transaction). */
export async function withAdminClient(url: string, work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}
