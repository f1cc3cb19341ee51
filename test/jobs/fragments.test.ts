import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import {
  ACTIVE_STATUS_SQL,
  abandonedJobSql,
  jobHeldSql,
  jobJoin,
  runnableJobSql,
  statusListSql,
  stoppedJobSql,
  wakeJobSql,
} from '../../src/jobs/sql/fragments.js';

const squash = (sql: string): string => sql.replace(/\s+/g, ' ').trim();

test('the active status list is the one of the lock index (jobs_active_lock)', async () => {
  const init = await readFile(new URL('../../src/db/migrations/001_init.sql', import.meta.url), 'utf8');
  const index = /CREATE UNIQUE INDEX jobs_active_lock ON jobs \(business_id, lock_key\)\s+WHERE status IN (\([^)]*\))/.exec(init);
  assert.ok(index?.[1], 'jobs_active_lock found in 001_init.sql');
  assert.equal(ACTIVE_STATUS_SQL, index[1]);
  // The gate's observation (migration 020) finds the lock holder by the same list.
  const gate = await readFile(new URL('../../src/db/migrations/020_gate_observation.sql', import.meta.url), 'utf8');
  assert.equal(/j\.lock_key = p_lock_key\s+AND j\.status IN (\([^)]*\))/.exec(gate)?.[1], ACTIVE_STATUS_SQL);
});

test('status lists come from job statuses only', () => {
  assert.equal(statusListSql(['queued', 'running']), `('queued', 'running')`);
  assert.throws(() => statusListSql([]));
  // @ts-expect-error: not a job status, and refused at run time too
  assert.throws(() => statusListSql(["queued') OR true --"]));
});

test('joins and predicates read as the statements they replaced', () => {
  assert.equal(jobJoin('j', 'r.job_id', '$1'), 'JOIN jobs j ON j.id = r.job_id AND j.business_id = $1');
  assert.equal(jobJoin('j', 'i.job_id'), 'JOIN jobs j ON j.id = i.job_id');
  assert.equal(runnableJobSql('j'), `j.status IN ('queued', 'running') AND NOT j.cancel_requested AND NOT j.pause_requested`);
  assert.equal(stoppedJobSql('j'), `(j.status IN ('failed', 'cancelled') OR j.cancel_requested)`);
  assert.equal(abandonedJobSql('j'), `j.status IN ('failed', 'cancelled')`);
  assert.throws(() => jobJoin('j; DROP TABLE jobs', 'r.job_id'));
});

test('the wake-up moves only a queued job that is due later than the window', () => {
  assert.equal(
    squash(wakeJobSql({ businessId: '$1', jobId: '$2', withinMs: 250 })),
    squash(`UPDATE jobs SET run_at = now() + interval '250 milliseconds'
             WHERE business_id = $1 AND id = $2
               AND status = 'queued' AND run_at > now() + interval '250 milliseconds'`),
  );
  assert.throws(() => wakeJobSql({ businessId: '$1', jobId: '$2', withinMs: 0.5 }));
  assert.throws(() => wakeJobSql({ businessId: '$1', jobId: '$2', withinMs: -1 }));
});

test('the fence is the claim: owner, attempt, and still running with no pause requested', () => {
  assert.equal(
    squash(jobHeldSql({ businessId: '$1', jobId: '$3', workerId: '$4', attempt: '$5' })),
    squash(`EXISTS (SELECT 1 FROM jobs WHERE id = $3 AND business_id = $1
                     AND locked_by = $4 AND attempts = $5 AND status = 'running'
                     AND NOT pause_requested)`),
  );
});
