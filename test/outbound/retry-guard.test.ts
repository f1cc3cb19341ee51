import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { createLogger } from '../../src/lib/logger.js';
import type { CallOutcome } from '../../src/outbound/call-status.js';
import { nextRetry, NO_RETRY, retryDueSql, type RetryPolicy } from '../../src/outbound/retry.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * The retry rule lives in TypeScript (nextRetry, for the transactional path) and in SQL
 * (retryDueSql, the guard of the one-statement call end in call-state.ts). If they disagreed, a
 * call the policy retries could end for good in one statement. This runs the generated SQL on a
 * real database for every outcome × attempt 0..retries+2 × policy (and a business without a
 * dialer_settings row, which has NO_RETRY) and compares each answer with nextRetry's.
 */
let db: TestDatabase;
let pool: pg.Pool;

const POLICIES: Array<RetryPolicy | null> = [
  null,
  { busy: 0, noAnswer: 0, delayS: 900 },
  { busy: 2, noAnswer: 1, delayS: 60 },
  { busy: 0, noAnswer: 3, delayS: 1 },
  { busy: 10, noAnswer: 10, delayS: 604800 },
];
const OUTCOMES: CallOutcome[] = ['completed', 'busy', 'no_answer', 'failed'];

before(async () => {
  db = await createTestDatabase();
  const log = createLogger('silent');
  pool = createPool(db.url, { max: 2 }, log);
  await migrate(pool, log);
});

after(async () => {
  await pool.end();
  await db.drop();
});

test('the SQL retry guard and nextRetry agree on every outcome, attempt and policy', async () => {
  const cases: Array<{ businessId: number; policy: RetryPolicy; outcome: CallOutcome; attempt: number }> = [];
  for (const p of POLICIES) {
    const { rows } = await pool.query<{ id: number }>(`INSERT INTO businesses (name) VALUES ('retry guard') RETURNING id`);
    const businessId = rows[0]?.id;
    assert.ok(businessId);
    if (p) {
      await pool.query(`INSERT INTO dialer_settings (business_id, retry_busy, retry_no_answer, retry_delay_s) VALUES ($1, $2, $3, $4)`, [
        businessId,
        p.busy,
        p.noAnswer,
        p.delayS,
      ]);
    }
    const policy = p ?? NO_RETRY;
    for (const outcome of OUTCOMES) {
      for (let attempt = 0; attempt <= Math.max(policy.busy, policy.noAnswer) + 2; attempt++) cases.push({ businessId, policy, outcome, attempt });
    }
  }
  const { rows } = await pool.query<{ ord: number; due: boolean }>(
    `SELECT t.ord::int, ${retryDueSql({ outcome: 't.outcome', attempt: 't.attempt', businessId: 't.business_id' })} AS due
       FROM unnest($1::bigint[], $2::text[], $3::int[]) WITH ORDINALITY AS t(business_id, outcome, attempt, ord)
      ORDER BY t.ord`,
    [cases.map((c) => c.businessId), cases.map((c) => c.outcome), cases.map((c) => c.attempt)],
  );
  assert.equal(rows.length, cases.length);
  let retried = 0;
  for (const [i, c] of cases.entries()) {
    const expected = nextRetry(c.outcome, c.attempt, c.policy) !== null;
    if (expected) retried++;
    assert.equal(rows[i]?.due, expected, `${c.outcome} after attempt ${c.attempt} with ${JSON.stringify(c.policy)}`);
  }
  assert.ok(retried > 0 && retried < cases.length, 'both answers occur');
});
