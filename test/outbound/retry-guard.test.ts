import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { createLogger } from '../../src/lib/logger.js';
import { CALL_OUTCOMES } from '../../src/contract/outbound.js';
import type { CallOutcome } from '../../src/outbound/call-status.js';
import { nextRetry, NO_RETRY, perOutcome, RETRY_OUTCOMES, retryDueSql, retryOutcomeOf, type EndedCall, type RetryOutcome, type RetryPolicy } from '../../src/outbound/retry.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * The retry rule lives in TypeScript (retryOutcomeOf + nextRetry, for the transactional path) and
 * in SQL (retryDueSql, the guard of the one-statement call end in call-state.ts). If they
 * disagreed, a call the policy retries could end for good in one statement. This runs the
 * generated SQL on a real database for every ended call (item outcome × AMD verdict × flow
 * outcome) × attempt 0..retries+2 × policy (and a business without a dialer_settings row, which
 * has NO_RETRY) and compares each answer with nextRetry's.
 */
let db: TestDatabase;
let pool: pg.Pool;

/** Extra attempts per outcome (the delays do not decide whether a retry is due). */
type Counts = Record<RetryOutcome, number>;
const POLICIES: Array<Counts | null> = [
  null,
  { busy: 0, no_answer: 0, machine: 0, voicemail_left: 0 },
  { busy: 2, no_answer: 1, machine: 0, voicemail_left: 0 },
  { busy: 0, no_answer: 3, machine: 1, voicemail_left: 0 },
  { busy: 0, no_answer: 0, machine: 2, voicemail_left: 1 },
  { busy: 10, no_answer: 10, machine: 10, voicemail_left: 10 },
];
const STATUSES: CallOutcome[] = ['completed', 'busy', 'no_answer', 'failed'];
const ANSWERED_BY: Array<EndedCall['answeredBy']> = [null, 'human', 'machine', 'unknown'];
const FLOW_OUTCOMES: Array<EndedCall['outcome']> = [null, ...CALL_OUTCOMES];

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

test('the SQL retry guard and nextRetry agree on every ended call, attempt and policy', async () => {
  const cases: Array<{ businessId: number; policy: RetryPolicy; call: EndedCall; attempt: number }> = [];
  for (const p of POLICIES) {
    const { rows } = await pool.query<{ id: number }>(`INSERT INTO businesses (name) VALUES ('retry guard') RETURNING id`);
    const businessId = rows[0]?.id;
    assert.ok(businessId);
    if (p) {
      await pool.query(
        `INSERT INTO dialer_settings (business_id, retry_busy, retry_no_answer, retry_machine, retry_voicemail_left, retry_delay_s) VALUES ($1, $2, $3, $4, $5, 60)`,
        [businessId, p.busy, p.no_answer, p.machine, p.voicemail_left],
      );
    }
    const policy: RetryPolicy = p ? perOutcome((o) => ({ attempts: p[o], delay: { delayS: 60 } })) : NO_RETRY;
    const most = Math.max(...RETRY_OUTCOMES.map((o) => policy[o].attempts));
    for (const status of STATUSES) {
      for (const answeredBy of ANSWERED_BY) {
        for (const outcome of FLOW_OUTCOMES) {
          for (let attempt = 0; attempt <= most + 2; attempt++) cases.push({ businessId, policy, call: { status, answeredBy, outcome }, attempt });
        }
      }
    }
  }
  const { rows } = await pool.query<{ ord: number; due: boolean }>(
    `SELECT t.ord::int, ${retryDueSql({ status: 't.status', answeredBy: 't.answered_by', outcome: 't.outcome', attempt: 't.attempt', businessId: 't.business_id' })} AS due
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[]) WITH ORDINALITY AS t(business_id, status, answered_by, outcome, attempt, ord)
      ORDER BY t.ord`,
    [cases.map((c) => c.businessId), cases.map((c) => c.call.status), cases.map((c) => c.call.answeredBy), cases.map((c) => c.call.outcome), cases.map((c) => c.attempt)],
  );
  assert.equal(rows.length, cases.length);
  const retried = new Map<string, number>();
  for (const [i, c] of cases.entries()) {
    const outcome = retryOutcomeOf(c.call);
    const expected = nextRetry(outcome, c.attempt, c.policy) !== null;
    if (expected && outcome) retried.set(outcome, (retried.get(outcome) ?? 0) + 1);
    assert.equal(rows[i]?.due, expected, `${JSON.stringify(c.call)} after attempt ${c.attempt} with ${JSON.stringify(c.policy)}`);
  }
  assert.deepEqual([...retried.keys()].sort(), [...RETRY_OUTCOMES].sort(), 'every retried outcome is retried in some case');
  assert.ok([...retried.values()].reduce((a, b) => a + b, 0) < cases.length, 'both answers occur');
});
