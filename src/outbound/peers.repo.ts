import type { Queryable } from '../db/pool.js';

/** Backend pids of this database's sessions named `applicationName`, ascending (dialer-peers.ts). */
export async function listSessionPids(db: Queryable, applicationName: string): Promise<number[]> {
  const { rows } = await db.query<{ pids: number[] }>(
    `SELECT coalesce(array_agg(pid ORDER BY pid), '{}') AS pids FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = $1`,
    [applicationName],
  );
  return rows[0]?.pids ?? [];
}
