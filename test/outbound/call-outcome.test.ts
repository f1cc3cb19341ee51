import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { markConnected, recordAnsweredBy, setMachineOutcome } from '../../src/outbound/call-outcome.repo.js';
import { createTenant, startTestEnv, type TestEnv, type Tenant } from '../helpers/harness.js';

/**
 * The order of a call's webhooks is Twilio's, not ours: with asynchronous AMD an agent leg of a
 * connect flow can answer before or after the verdict "machine" and our hang-up. Whatever the
 * order, a machine we hung up on stays `hung_up` (retried as `machine` if the business asks),
 * and a person who reached an agent is `connected`.
 */
let env: TestEnv;
let t: Tenant;
before(async () => {
  env = await startTestEnv({ worker: false });
  t = await createTenant(env);
});
after(() => env.close());

let n = 0;
async function activeCall(): Promise<{ id: number; sid: string }> {
  const sid = `CA${String(++n).padStart(32, '0')}`;
  const { rows } = await env.pool.query<{ id: number }>(
    `INSERT INTO calls (business_id, from_number, to_number, status, call_sid) VALUES ($1, '+97235550100', '+972501234567', 'in-progress', $2) RETURNING id::int`,
    [t.businessId, sid],
  );
  const id = rows[0]?.id;
  assert.ok(id);
  return { id, sid };
}

async function outcomeOf(id: number): Promise<{ outcome: string | null; answered_by: string | null; agent: string | null }> {
  const { rows: [r] } = await env.pool.query<{ outcome: string | null; answered_by: string | null; agent: string | null }>(
    `SELECT outcome, answered_by, agent FROM calls WHERE id = $1`, [id]);
  assert.ok(r);
  return r;
}

test('a machine hung up on, then an agent leg answers: still hung_up (the agent met the machine)', async () => {
  const c = await activeCall();
  assert.equal(await recordAnsweredBy(env.pool, t.businessId, c.id, c.sid, 'machine'), true);
  await setMachineOutcome(env.pool, t.businessId, c.id, 'hung_up');
  await markConnected(env.pool, t.businessId, c.id, c.sid, '+97235550199');
  assert.deepEqual(await outcomeOf(c.id), { outcome: 'hung_up', answered_by: 'machine', agent: '+97235550199' });
});

test('an agent answers, then the verdict says machine: hung_up', async () => {
  const c = await activeCall();
  await markConnected(env.pool, t.businessId, c.id, c.sid, '+97235550199');
  assert.equal(await recordAnsweredBy(env.pool, t.businessId, c.id, c.sid, 'machine'), true);
  await setMachineOutcome(env.pool, t.businessId, c.id, 'hung_up');
  assert.equal((await outcomeOf(c.id)).outcome, 'hung_up');
});

test('a person: connected whichever comes first, and a hung_up not decided by a machine gives way', async () => {
  const c = await activeCall();
  assert.equal(await recordAnsweredBy(env.pool, t.businessId, c.id, c.sid, 'human'), true);
  await markConnected(env.pool, t.businessId, c.id, c.sid, '+97235550199');
  assert.equal((await outcomeOf(c.id)).outcome, 'connected');

  const d = await activeCall();
  await env.pool.query(`UPDATE calls SET outcome = 'hung_up' WHERE id = $1`, [d.id]);
  await markConnected(env.pool, t.businessId, d.id, d.sid, null);
  assert.equal((await outcomeOf(d.id)).outcome, 'connected');
});
