import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { commitBatch } from '../../src/jobs/sql/batch.js';
import { claimJobsOfOneBusiness } from '../../src/jobs/sql/claim.js';
import { heartbeat } from '../../src/jobs/sql/liveness.js';
import { openProbeDatabase, type ProbeDatabase } from '../fixtures/probe.js';

/*
 * Issue 11, "fewer index writes per job": the updates a held job gets between its claim and its
 * settle (a batch's progress, the heartbeat) change no indexed column, so PostgreSQL can make
 * them heap-only (HOT: no index entry written) when the row's page has room; migration 019 keeps
 * that room (fillfactor 80). The transaction's own counters tell HOT from not.
 */

let probe: ProbeDatabase;

before(async () => {
  probe = await openProbeDatabase(4);
});

after(async () => {
  await probe?.close();
});

const COUNTERS = `SELECT pg_stat_get_xact_tuples_updated('jobs'::regclass)::int AS updated,
                          pg_stat_get_xact_tuples_hot_updated('jobs'::regclass)::int AS hot`;

/**
 * Runs `work` in one transaction and returns how many job rows it updated, how many of those
 * updates were heap-only, and the transaction's id. The xact counters also hold earlier
 * transactions of the session whose statistics are not flushed yet (PostgreSQL 15+ flushes at
 * most once a second), hence the difference; nothing is flushed inside a transaction.
 */
async function updatesIn(client: pg.PoolClient, work: () => Promise<void>): Promise<{ updated: number; hot: number; xid: string }> {
  await client.query('BEGIN');
  try {
    const { rows: [before] } = await client.query<{ updated: number; hot: number }>(COUNTERS);
    await work();
    const { rows: [after] } = await client.query<{ updated: number; hot: number; xid: string }>(`${COUNTERS}, pg_current_xact_id()::text AS xid`);
    await client.query('COMMIT');
    assert.ok(before && after);
    return { updated: after.updated - before.updated, hot: after.hot - before.hot, xid: after.xid };
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

/**
 * Whether the row versions that transaction `xid` left dead can be pruned from their page now:
 * no transaction that began before it ended is still running (anywhere on the server: it holds
 * back every new snapshot's xmin, this session's own included), and no other session of this
 * database holds a snapshot from before it (autovacuum's ANALYZE of another table, say). Another
 * test file's long transaction on the same server is the usual reason it is false for a while.
 * Waits up to `ms` for it (0: only looks).
 */
async function prunable(client: pg.PoolClient, xid: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    const { rows: [state] } = await client.query<{ ok: boolean }>(
      `SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::xid8
          AND NOT EXISTS (SELECT 1 FROM pg_stat_activity
                           WHERE datname = current_database() AND pid <> pg_backend_pid()
                             AND backend_xmin IS NOT NULL
                             AND age(backend_xmin) >= age(($1::xid8::text::bigint % 4294967296)::text::xid)) AS ok`,
      [xid],
    );
    if (state?.ok) return true;
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("a running job's batch commits and heartbeats write no index entry, though jobs queued after it filled its page", async (t) => {
  const { pool, businessId } = probe;
  const worker = 'hot-worker';
  const insert = (queue: string, n: number) => pool.query(
    `INSERT INTO jobs (business_id, type, queue, params, params_hash, total)
     SELECT $1, 'probe', $2, '{"batches": 50}'::jsonb, 'hot-' || $2 || '-' || g, 50 FROM generate_series(1, $3::int) g`,
    [businessId, queue, n],
  );
  // An old version is removed from its page (room for the next update) only when no snapshot can
  // still see it. Autovacuum's ANALYZE of the 400 rows below holds one, and then updates stop
  // finding room (seen once with other test files running); it has nothing to do with this test.
  await pool.query(`ALTER TABLE jobs SET (autovacuum_enabled = false)`);
  await insert('hot', 1);
  const client = await pool.connect();
  try {
    let job = { id: 0, attempts: 0 };
    const claim = await updatesIn(client, async () => {
      const { rows } = await client.query<{ id: number | null; attempts: number | null }>(claimJobsOfOneBusiness(worker, ['hot'], 1));
      job = { id: Number(rows[0]?.id), attempts: Number(rows[0]?.attempts) };
    });
    assert.ok(job.id > 0, 'the job was claimed');
    // The claim changes status, the partial indexes' predicate: never HOT. It shows the counters tell the two apart.
    assert.deepEqual({ updated: claim.updated, hot: claim.hot }, { updated: 1, hot: 0 }, 'the claim writes index entries');

    // Jobs queued after it (another queue, so nothing claims them) fill the page its row is on, and the pages after.
    await insert('later', 400);
    const { rows: [page] } = await pool.query<{ fillfactor: string | null }>(
      `SELECT (SELECT option_value FROM pg_options_to_table(reloptions) WHERE option_name = 'fillfactor') AS fillfactor FROM pg_class WHERE oid = 'jobs'::regclass`,
    );

    // The room fillfactor keeps holds a few versions of the row: the first batch's two always fit.
    // Later ones fit because PostgreSQL prunes the dead versions off the page as the next update
    // reads it, which it can only when no snapshot still sees them; then each batch must be
    // heap-only too. A batch that could not prune may have moved the row to another page, where
    // no room was kept: the batches after it are not checked. (At fillfactor 100 the first batch
    // already is not heap-only.)
    const label = `jobs fillfactor ${page?.fillfactor ?? 'default (100)'}`;
    let lastXid = claim.xid;
    let checked = 0;
    let onItsPage = true;
    const waitUntil = Date.now() + 5_000;
    for (let i = 1; i <= 20; i++) {
      const pruned = i === 1 || (onItsPage && await prunable(client, lastXid, Math.max(0, waitUntil - Date.now())));
      const batch = await updatesIn(client, async () => {
        const { rowCount } = await client.query(commitBatch(job.id, worker, job.attempts, { processed: 1, succeeded: 1, failed: 0, checkpoint: { seq: i }, done: false }));
        assert.equal(rowCount, 1, 'the fence holds');
        await client.query(heartbeat(worker));
      });
      lastXid = batch.xid;
      assert.equal(batch.updated, 2, `batch ${i}: the progress and the heartbeat each update the job's row`);
      if (batch.hot < 2) onItsPage = false;
      if (!pruned) continue;
      checked += 1;
      assert.equal(batch.hot, 2, `batch ${i}: its progress and the heartbeat are heap-only (${label})`);
    }
    t.diagnostic(checked === 20 ? 'all 20 batches checked'
      : `${checked} of 20 batches checked: an older transaction elsewhere on the server held the dead versions longer than the 5 s this test waits in all`);

    const { rows: [row] } = await pool.query<{ processed: number; status: string; checkpoint: unknown }>(`SELECT processed, status, checkpoint FROM jobs WHERE id = $1`, [job.id]);
    assert.deepEqual(row, { processed: 20, status: 'running', checkpoint: { seq: 20 } });
    const { rows: [found] } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs WHERE business_id = $1 AND status = 'running' AND id = $2`, [businessId, job.id],
    );
    assert.equal(found?.n, 1, 'the indexes still find the row after its heap-only updates');
  } finally {
    client.release();
  }
});
