/**
 * The engine statements that settle a requested pause (issue 11), one by one against a real
 * PostgreSQL and without a worker loop: a held job asked to pause becomes `paused` at whichever
 * boundary comes first — the batch commit, a release (snooze, runtime slice, SIGTERM), a failed
 * batch, or the rescuer — and the request is cleared in the same UPDATE. Cancel wins over pause; a
 * completed batch completes. test/http/jobs-pause.test.ts covers the same through a real worker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { cancelJob, getJob, pauseJob, resumeJob } from '../../src/jobs/jobs.repo.js';
import type { JobRow } from '../../src/jobs/types.js';
import { commitBatch } from '../../src/jobs/sql/batch.js';
import { claimJobs } from '../../src/jobs/sql/claim.js';
import { jobHeldSql, runnableJobSql } from '../../src/jobs/sql/fragments.js';
import { registerWorker, rescueStaleJobs } from '../../src/jobs/sql/liveness.js';
import { recordBatchFailure, releaseJob } from '../../src/jobs/sql/release.js';
import { insertProbeJob, openProbeDatabase, type ProbeDatabase } from '../fixtures/probe.js';

let probe: ProbeDatabase;
let pool: pg.Pool;
let businessId: number;
let n = 0;

before(async () => {
  probe = await openProbeDatabase(5);
  ({ pool, businessId } = probe);
});

after(async () => {
  await probe.close();
});

interface Held {
  id: number;
  worker: string;
  attempt: number;
}

/** A job claimed by a (registered, live) worker: `running`, locked_by set — as a worker holds it. */
async function heldJob(): Promise<Held> {
  const queue = `q${++n}`;
  const worker = `test-worker-${n}`;
  await pool.query(registerWorker(worker, 'test', process.pid, [queue]));
  const job = await insertProbeJob(pool, businessId, { batches: 10 }, { queue });
  const { rows } = await pool.query<{ id: number; attempts: number }>(claimJobs(worker, [queue], 1));
  assert.equal(rows[0]?.id, job.id);
  return { id: job.id, worker, attempt: rows[0]?.attempts ?? 0 };
}

async function requestPause(h: Held): Promise<JobRow> {
  const requested = await pauseJob(pool, businessId, h.id);
  assert.equal(requested?.status, 'running');
  assert.equal(requested?.pause_requested, true);
  return requested;
}

async function state(id: number): Promise<JobRow> {
  const j = await getJob(pool, businessId, id);
  assert.ok(j);
  return j;
}

const batch = (done = false) => ({ processed: 1, succeeded: 1, failed: 0, checkpoint: 1, done });

describe('a requested pause is settled at the first boundary', () => {
  test('batch commit: the batch counts, then paused, let go, request cleared', async () => {
    const h = await heldJob();
    await requestPause(h);
    const { rows } = await pool.query<{ status: string; processed: number }>(commitBatch(h.id, h.worker, h.attempt, batch()));
    assert.deepEqual(rows[0], { status: 'paused', processed: 1, total: 10, succeeded: 1, failed: 0 });
    const j = await state(h.id);
    assert.equal(j.locked_by, null);
    assert.equal(j.pause_requested, false);
    // The worker's claim is over: nothing it still tries to commit lands.
    assert.equal((await pool.query(commitBatch(h.id, h.worker, h.attempt, batch()))).rowCount, 0);
    assert.equal((await state(h.id)).processed, 1);
  });

  test('batch commit: a completed batch completes; a pending cancel wins over the pause', async () => {
    const done = await heldJob();
    await requestPause(done);
    await pool.query(commitBatch(done.id, done.worker, done.attempt, batch(true)));
    assert.equal((await state(done.id)).status, 'completed');
    assert.equal((await state(done.id)).pause_requested, false);

    const both = await heldJob();
    await requestPause(both);
    const cancelling = await cancelJob(pool, businessId, both.id);
    assert.equal(cancelling?.status, 'running');
    assert.equal(cancelling?.cancel_requested, true);
    assert.equal(await resumeJob(pool, businessId, both.id), null, 'resume does not take a cancel back');
    await pool.query(commitBatch(both.id, both.worker, both.attempt, batch()));
    const j = await state(both.id);
    assert.equal(j.status, 'cancelled');
    assert.equal(j.pause_requested, false);
    assert.ok(j.finished_at);
  });

  test('release (snooze, runtime slice, SIGTERM): paused instead of queued', async () => {
    const h = await heldJob();
    await requestPause(h);
    const { rows } = await pool.query<{ status: string }>(releaseJob(h.id, h.worker, h.attempt, 5_000));
    assert.equal(rows[0]?.status, 'paused');
    const j = await state(h.id);
    assert.equal(j.locked_by, null);
    assert.equal(j.pause_requested, false);
    const resumed = await resumeJob(pool, businessId, h.id);
    assert.equal(resumed?.status, 'queued');
    assert.ok((resumed?.run_at.getTime() ?? Infinity) <= Date.now() + 1_000, 'resume makes it due now, not after the snooze');
  });

  test('failed batch: paused (resume retries it), unless the failure fails the job', async () => {
    const retry = await heldJob();
    await requestPause(retry);
    const r = await pool.query<{ status: string }>(recordBatchFailure(retry.id, retry.worker, retry.attempt, 'boom', false, 10, 1_000));
    assert.equal(r.rows[0]?.status, 'paused');
    assert.equal((await state(retry.id)).pause_requested, false);
    assert.equal((await state(retry.id)).last_error, 'boom');

    const fatal = await heldJob();
    await requestPause(fatal);
    const f = await pool.query<{ status: string }>(recordBatchFailure(fatal.id, fatal.worker, fatal.attempt, 'fatal', true, 10, 1_000));
    assert.equal(f.rows[0]?.status, 'failed');
    assert.equal((await state(fatal.id)).pause_requested, false);
  });

  test('rescuer: a silent worker\'s job asked to pause is paused, not re-queued', async () => {
    const h = await heldJob();
    await requestPause(h);
    await pool.query(`UPDATE workers SET heartbeat_at = now() - interval '1 hour' WHERE id = $1`, [h.worker]);
    const { rows } = await pool.query<{ id: number; status: string }>(rescueStaleJobs(10_000));
    assert.deepEqual(rows.filter((r) => r.id === h.id).map((r) => r.status), ['paused']);
    const j = await state(h.id);
    assert.equal(j.locked_by, null);
    assert.equal(j.pause_requested, false);
  });
});

describe('requests and rows of the old semantics', () => {
  test('pause of a queued job is immediate; of a pause-requested one idempotent; resume withdraws a pending pause', async () => {
    const queued = await insertProbeJob(pool, businessId, { batches: 1 }, { queue: `q${++n}` });
    const p = await pauseJob(pool, businessId, queued.id);
    assert.equal(p?.status, 'paused');
    assert.equal(p?.pause_requested, false);
    assert.equal(await pauseJob(pool, businessId, queued.id), null, 'a paused job: 409');

    const h = await heldJob();
    await requestPause(h);
    await requestPause(h);
    const withdrawn = await resumeJob(pool, businessId, h.id);
    assert.equal(withdrawn?.status, 'running');
    assert.equal(withdrawn?.pause_requested, false);
    assert.equal(withdrawn?.locked_by, h.worker, 'the worker goes on holding it');
    assert.equal(await resumeJob(pool, businessId, h.id), null, 'nothing left to resume: 409');
    await pool.query(commitBatch(h.id, h.worker, h.attempt, batch()));
    assert.equal((await state(h.id)).status, 'running', 'the withdrawn pause does not pause it');
  });

  test('a row paused while held (before pause requests existed) is let go at the commit, and resumes', async () => {
    const old = await heldJob();
    await pool.query(`UPDATE jobs SET status = 'paused' WHERE id = $1`, [old.id]);
    const { rows } = await pool.query<{ status: string }>(commitBatch(old.id, old.worker, old.attempt, batch()));
    assert.equal(rows[0]?.status, 'paused');
    assert.equal((await state(old.id)).locked_by, null);

    const stillHeld = await heldJob();
    await pool.query(`UPDATE jobs SET status = 'paused' WHERE id = $1`, [stillHeld.id]);
    assert.equal((await resumeJob(pool, businessId, stillHeld.id))?.status, 'running', 'its worker still holds it and goes on');
  });

  test('only a held running job can carry a pause request (CHECK jobs_pause_requested_held)', async () => {
    const queued = await insertProbeJob(pool, businessId, { batches: 1 }, { queue: `q${++n}` });
    await assert.rejects(pool.query(`UPDATE jobs SET pause_requested = true WHERE id = $1`, [queued.id]), /jobs_pause_requested_held/);
  });

  test('the fragments: a pending pause is not runnable (no dial) and not held for new work (no broadcast wave)', async () => {
    const h = await heldJob();
    const check = async () => {
      const { rows } = await pool.query<{ runnable: boolean; held: boolean }>(
        `SELECT (SELECT ${runnableJobSql('j')} FROM jobs j WHERE j.id = $2) AS runnable,
                ${jobHeldSql({ businessId: '$1', jobId: '$2', workerId: '$3', attempt: '$4' })} AS held`,
        [businessId, h.id, h.worker, h.attempt],
      );
      return rows[0];
    };
    assert.deepEqual(await check(), { runnable: true, held: true });
    await requestPause(h);
    assert.deepEqual(await check(), { runnable: false, held: false });
  });
});
