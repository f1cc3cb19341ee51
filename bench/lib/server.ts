/**
 * The one PostgreSQL server a benchmark run uses: DATABASE_URL when set, otherwise one embedded
 * server in a temporary DATA_DIR (as test/run.ts does). Every scenario then creates its own
 * database on it (lib/db.ts), so all engines and all scenarios meet the same server settings.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../src/db/embedded.js';
import { createLogger } from '../../src/lib/logger.js';

// Same trade as test/run.ts: a throwaway cluster gains nothing from durability, and fsync would
// dominate the small-transaction latency every engine here depends on. The doc says so.
const FAST_UNSAFE_FLAGS = ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
// Loaded but switched off: only the profiling pass of the engine scenario turns tracking on for
// its own database, so no measured run pays for it.
const PROFILING_FLAGS = ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track=none'];

export interface BenchServer {
  /** Superuser URL of the server's maintenance database. */
  url: string;
  kind: 'embedded' | 'external';
  /** Extra server flags we set (embedded only). */
  flags: string[];
  version: string;
  /** pg_stat_statements is preloaded, so a database can opt in to statement profiling. */
  canProfile: boolean;
  stop(): Promise<void>;
}

export async function startBenchServer(): Promise<BenchServer> {
  const external = process.env.DATABASE_URL;
  if (external) {
    const { version, canProfile } = await describeServer(external);
    return { url: external, kind: 'external', flags: [], version, canProfile, stop: async () => undefined };
  }
  const runDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulkhead-bench-'));
  // mkdtemp makes 0700; the server runs as the postgres OS user when we are root.
  await fs.chmod(runDir, 0o711);
  const flags = [...FAST_UNSAFE_FLAGS, ...PROFILING_FLAGS];
  let embedded: EmbeddedPostgresHandle;
  try {
    embedded = await startEmbeddedPostgres({ dataDir: path.join(runDir, 'data'), log: createLogger('warn', 'bench-pg'), extraFlags: flags });
  } catch (err) {
    await fs.rm(runDir, { recursive: true, force: true });
    throw err;
  }
  const { version, canProfile } = await describeServer(embedded.url);
  return {
    url: embedded.url,
    kind: 'embedded',
    flags,
    version,
    canProfile,
    async stop() {
      await embedded.stop();
      await fs.rm(runDir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}

async function describeServer(url: string): Promise<{ version: string; canProfile: boolean }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string; libs: string }>(
      `SELECT current_setting('server_version') AS server_version, current_setting('shared_preload_libraries') AS libs`,
    );
    const row = rows[0];
    return { version: row?.server_version ?? 'unknown', canProfile: (row?.libs ?? '').includes('pg_stat_statements') };
  } finally {
    await client.end();
  }
}
