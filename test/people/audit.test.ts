import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pruneAudit } from '../../src/people/audit.repo.js';
import { createTenant, startTestEnv, waitForJob, type Tenant, type TestEnv } from '../helpers/harness.js';
import { seedLeads } from '../leads/helpers.js';
import { http } from './helpers.js';

let env: TestEnv;
let a: Tenant;
let b: Tenant;

before(async () => {
  env = await startTestEnv({ listen: true });
  a = await createTenant(env);
  b = await createTenant(env);
});
after(() => env.close());

interface Entry { id: number; action: string; user_id: number | null; user_email: string | null; target_type: string | null; target_id: string | null; details: Record<string, unknown>; ip: string | null }

const auditOf = async (t: Tenant, query = ''): Promise<Entry[]> =>
  (await http<{ items: Entry[] }>(env, 'GET', `/audit${query}`, { bearer: t.token })).body.items;

describe('audit trail', () => {
  test('an accepted bulk operation and its entry commit together; a refused one leaves neither', async () => {
    const ids = await seedLeads(env, a, 30);
    const res = await http<{ job_id: number }>(env, 'POST', '/leads/bulk-delete', { bearer: a.token, body: { lead_ids: ids } });
    assert.equal(res.status, 202);
    const [entry] = await auditOf(a, '?action=job.accepted');
    assert.deepEqual(
      { action: entry?.action, user_id: entry?.user_id, target: [entry?.target_type, entry?.target_id], details: entry?.details, ip: entry?.ip },
      { action: 'job.accepted', user_id: a.userId, target: ['job', String(res.body.job_id)], details: { operation: 'delete_leads_bulk', count: 30 }, ip: '127.0.0.1' },
    );
    await waitForJob(env, res.body.job_id, 'completed');

    // The gate's refusal (rate limit: 2 per minute, the third is refused) writes no entry.
    await http(env, 'POST', '/leads/bulk-delete', { bearer: a.token, body: { lead_ids: [ids[0]] } });
    const before = (await auditOf(a, '?action=job.accepted')).length;
    const refused = await http(env, 'POST', '/leads/bulk-delete', { bearer: a.token, body: { lead_ids: [ids[1]] } });
    assert.equal(refused.status, 429);
    assert.equal((await auditOf(a, '?action=job.accepted')).length, before);

    // An audit write that fails takes the job down with it: same transaction.
    await env.pool.query(`UPDATE businesses SET rate_limits = '{"update_leads_bulk": 1000}' WHERE id = $1`, [a.businessId]);
    await env.pool.query(`CREATE FUNCTION test_fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit store down'; END $$`);
    await env.pool.query(`CREATE TRIGGER test_fail_audit BEFORE INSERT ON audit_log FOR EACH ROW WHEN (NEW.action = 'job.accepted') EXECUTE FUNCTION test_fail_audit()`);
    try {
      const jobs = async () => (await env.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE business_id = $1`, [a.businessId])).rows[0] as { n: number };
      const jobsBefore = await jobs();
      const failed = await http(env, 'POST', '/leads/bulk-update', { bearer: a.token, body: { lead_ids: ids, set: { status: 'won' } } });
      assert.equal(failed.status, 500);
      assert.deepEqual(await jobs(), jobsBefore, 'no job without its audit entry');
    } finally {
      await env.pool.query(`DROP TRIGGER test_fail_audit ON audit_log; DROP FUNCTION test_fail_audit()`);
    }
  });

  test('job control, settings and people changes are on record with who did them; B never sees A\'s entries', async () => {
    // No worker from here on: the job stays queued, so cancelling it is a transition that happens.
    for (const w of env.workers) await w.stop();
    await env.pool.query(`UPDATE businesses SET rate_limits = '{"update_leads_bulk": 1000}' WHERE id = $1`, [a.businessId]);
    const ids = await seedLeads(env, a, 5, { start: 500 });
    const job = await http<{ job_id: number }>(env, 'POST', '/leads/bulk-update', { bearer: a.token, body: { lead_ids: ids, set: { status: 'x' } } });
    assert.equal((await http(env, 'POST', `/jobs/${job.body.job_id}/cancel`, { bearer: a.token })).status, 200);
    await http(env, 'PATCH', '/outbound/settings', { bearer: a.token, body: { max_call_s: 600 } });
    const invited = await http<{ user: { id: number } }>(env, 'POST', '/users', { bearer: a.token, body: { email: 'new@audit.test', role: 'agent' } });
    await http(env, 'PATCH', `/users/${invited.body.user.id}`, { bearer: a.token, body: { role: 'admin' } });
    const tok = await http<{ id: number }>(env, 'POST', '/tokens', { bearer: a.token, body: { name: 'audited' } });
    await http(env, 'DELETE', `/tokens/${tok.body.id}`, { bearer: a.token });

    const entries = await auditOf(a, '?limit=500');
    const actions = entries.map((e) => e.action);
    for (const action of ['job.cancel', 'settings.update', 'user.invite', 'user.update', 'token.create', 'token.revoke', 'business.create']) {
      assert.ok(actions.includes(action), `${action} missing from ${actions.join(', ')}`);
    }
    const update = entries.find((e) => e.action === 'user.update');
    assert.deepEqual(update?.details, { email: 'new@audit.test', role: { from: 'agent', to: 'admin' } });
    assert.equal(entries.find((e) => e.action === 'job.cancel')?.target_id, String(job.body.job_id));
    assert.ok(entries.filter((e) => e.action !== 'business.create').every((e) => e.user_id === a.userId));

    assert.deepEqual((await auditOf(b, '?limit=500')).map((e) => e.action), ['business.create']);
    assert.deepEqual(await auditOf(b, `?user_id=${a.userId}`), []);

    // Cursor pages: newest first, no gaps, no repeats.
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: Entry[]; next_cursor: string | null } } = await http(env, 'GET', `/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { bearer: a.token });
      seen.push(...page.body.items.map((e) => e.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, entries.map((e) => e.id));
  });

  test('the database refuses UPDATE, DELETE and TRUNCATE of the trail; the retention prune removes only entries past retention', async () => {
    const refused = async (sql: string) => assert.rejects(env.pool.query(sql), (err: { code?: string; message: string }) => err.code === '42501' && /append-only/.test(err.message), sql);
    await refused(`UPDATE audit_log SET action = 'nothing' WHERE business_id = ${a.businessId}`);
    await refused(`DELETE FROM audit_log WHERE business_id = ${a.businessId}`);
    await refused(`TRUNCATE audit_log`);
    // The prune's setting does not unlock recent entries.
    const client = await env.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('bulkhead.audit_prune_days', '1', true)`);
      await assert.rejects(client.query(`DELETE FROM audit_log WHERE business_id = $1`, [a.businessId]), /append-only/);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }

    const { rows } = await env.pool.query<{ id: number }>(
      `INSERT INTO audit_log (business_id, at, action) SELECT $1, now() - make_interval(days => d), 'old.entry' FROM unnest(ARRAY[400, 366, 364, 10]) AS d RETURNING id`,
      [a.businessId],
    );
    assert.equal(rows.length, 4);
    const before = (await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log`)).rows[0]?.n ?? 0;
    assert.equal(await pruneAudit(env.pool, 365), 2);
    const left = await env.pool.query<{ days: number }>(`SELECT extract(day FROM now() - at)::int AS days FROM audit_log WHERE action = 'old.entry' ORDER BY at`);
    assert.deepEqual(left.rows.map((r) => r.days), [364, 10]);
    assert.equal((await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log`)).rows[0]?.n, before - 2);
  });
});
