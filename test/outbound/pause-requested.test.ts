/**
 * A run whose job has a pause requested dials nothing more (issue 11): the dialer's runnable-job
 * fragment excludes `pause_requested`, so the slot filler and the sweeper skip the run while its
 * job is still `running`, before the boundary makes it `paused`.
 *
 * A run's job is held only for the few milliseconds of its batch (it snoozes between batches,
 * and a snoozed job pauses at once), so the test holds it itself: a registered "ghost" worker
 * takes the snoozed job, the pause is requested while the ghost holds it, and the ghost then goes
 * silent so that the real worker's rescuer settles the request (→ `paused`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { registerWorker } from '../../src/jobs/sql/liveness.js';
import { createTenant, waitFor, waitForJob } from '../helpers/harness.js';
import { api, makeLeads, simCallsTo, startOutboundEnv, startRun, waitForNoActiveCalls, type OutboundEnv } from './helpers.js';

let env: OutboundEnv;

before(async () => {
  env = await startOutboundEnv();
});

after(async () => {
  await env.close();
});

async function callCount(businessId: number): Promise<number> {
  const { rows } = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM calls WHERE business_id = $1`, [businessId]);
  return rows[0]?.n ?? 0;
}

describe('a run with a pause requested', () => {
  test('dials nothing more while running with pause_requested; paused at the boundary; resume completes it exactly', async () => {
    env.sim.callMs = 150;
    const t = await createTenant(env, { max_outbound_calls: 2 });
    const leads = await makeLeads(env, t, 12);
    const { jobId } = await startRun(env, t, leads.map((l) => l.id));
    await waitForJob(env, jobId, (j) => j.processed >= 2);

    // The ghost takes the job between two of its batches (queued, nobody holds it).
    const ghost = `ghost:${process.pid}`;
    await env.pool.query(registerWorker(ghost, 'test', process.pid, ['default']));
    await waitFor(async () => (await env.pool.query(
      `UPDATE jobs SET status = 'running', locked_by = $2, locked_at = now(), attempts = attempts + 1
        WHERE id = $1 AND status = 'queued' AND locked_by IS NULL`, [jobId, ghost])).rowCount === 1, 'the ghost holds the run\'s job');

    const requested = await api(env, t, 'POST', `/jobs/${jobId}/pause`);
    assert.equal(requested.status, 200);
    assert.equal(requested.body.status, 'running');
    assert.equal(requested.body.pause_requested, true);

    // A fill whose transaction began before the request committed may still place its calls
    // (it read the job as runnable; the README says so): wait until every transaction
    // of this database that began before the request has ended, then until the calls have.
    // (Counting right after the request raced such a fill on a loaded CI run: 4, then 6.)
    const { rows: [at] } = await env.pool.query<{ t: Date }>(`SELECT clock_timestamp() AS t`);
    await waitFor(async () => (await env.pool.query(
      `SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start < $1) AS ok`,
      [at?.t],
    )).rows[0]?.ok === true, 'no transaction from before the pause request', 10_000);
    await waitForNoActiveCalls(env, t.businessId);
    const placed = await callCount(t.businessId);
    assert.ok(placed < 12, `the pause came after ${placed} of 12 calls`);
    // A sweep (retries due, fill of businesses with free slots) must not dial it either.
    await env.outbound.sweepNow();
    await env.outbound.sweepNow();
    assert.equal(await callCount(t.businessId), placed, 'no call placed for a run whose job has a pause requested');
    const held = (await api(env, t, 'GET', `/jobs/${jobId}`)).body;
    assert.deepEqual({ status: held.status, pause_requested: held.pause_requested }, { status: 'running', pause_requested: true });

    // The ghost goes silent: the rescuer is its boundary, and the requested pause takes effect.
    await env.pool.query(`UPDATE workers SET heartbeat_at = now() - interval '1 hour' WHERE id = $1`, [ghost]);
    await waitForJob(env, jobId, 'paused');
    const paused = (await api(env, t, 'GET', `/jobs/${jobId}`)).body;
    assert.equal(paused.pause_requested, false);
    await env.outbound.sweepNow();
    assert.equal(await callCount(t.businessId), placed, 'a paused run dials nothing');

    assert.equal((await api(env, t, 'POST', `/jobs/${jobId}/resume`)).status, 200);
    const done = await waitForJob(env, jobId, 'completed', 20_000);
    assert.equal(done.processed, 12);
    for (const l of leads) assert.equal(simCallsTo(env.sim).get(l.phone), 1, 'every lead called exactly once');
  });
});
