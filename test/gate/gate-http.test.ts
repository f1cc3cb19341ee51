import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, createTenant, startTestEnv, waitForJob, type TestEnv, type Tenant } from '../helpers/harness.js';

/**
 * The bulk gate through real HTTP: parallel requests, rate windows, locks and idempotency.
 * No worker runs unless a test starts one, so accepted jobs stay active and hold their lock.
 */
let env: TestEnv;

before(async () => {
  env = await startTestEnv({ worker: false, listen: true });
});
after(() => env.close());

async function post(t: Tenant, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${env.baseUrl}${path}`, {
    method: 'POST',
    headers: { ...t.headers, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> & { error?: { code: string; details?: Record<string, unknown> } } };
}

async function jobCount(t: Tenant, type: string): Promise<number> {
  const { rows } = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE business_id = $1 AND type = $2`, [t.businessId, type]);
  return rows[0]?.n ?? 0;
}

let seeded = 0;
async function seedLeads(t: Tenant, n: number): Promise<number[]> {
  const { rows } = await env.pool.query<{ id: number }>(
    `INSERT INTO leads (business_id, phone) SELECT $1, '+1212' || lpad(i::text, 7, '0') FROM generate_series($3::int + 1, $3::int + $2::int) i RETURNING id`,
    [t.businessId, n, (seeded += n) - n],
  );
  return rows.map((r) => r.id);
}

describe('bulk gate over HTTP', () => {
  test('20 parallel identical bulk deletes create exactly one job; the rest are told which job blocks', async () => {
    const t = await createTenant(env);
    const ids = await seedLeads(t, 10);
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(t, '/api/v1/leads/bulk-delete', { lead_ids: ids })));
    const accepted = answers.filter((a) => a.status === 202);
    assert.equal(accepted.length, 1);
    const jobId = accepted[0]?.body.job_id;
    for (const a of answers.filter((x) => x.status !== 202)) {
      assert.equal(a.status, 429);
      assert.ok(['operation_in_progress', 'duplicate_request'].includes(a.body.error?.code ?? ''), a.body.error?.code);
      assert.equal(a.body.error?.details?.job_id, jobId);
      assert.match(a.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    }
    assert.equal(await jobCount(t, 'delete_leads_bulk'), 1);
  });

  test('20 parallel identical imports (no lock) are de-duplicated to one job', async () => {
    const t = await createTenant(env);
    const body = { leads: [{ phone: '+12125550100' }] };
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(t, '/api/v1/leads/import', body)));
    assert.equal(answers.filter((a) => a.status === 202).length, 1);
    assert.ok(answers.filter((a) => a.status === 429).every((a) => a.body.error?.code === 'duplicate_request'));
    assert.equal(await jobCount(t, 'import_leads'), 1);
  });

  test('rate limit per business per minute, with Retry-After until the window frees a slot', async () => {
    const t = await createTenant(env);
    const other = await createTenant(env);
    for (let i = 0; i < 2; i++) {
      const a = await post(t, '/api/v1/leads/import', { leads: [{ phone: `+1212555020${i}` }] });
      assert.equal(a.status, 202);
    }
    // import_leads allows 5 per minute by default; lower it for this business through the admin API.
    const patch = await env.app.inject({
      method: 'PATCH',
      url: `/api/v1/admin/businesses/${t.businessId}`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { rate_limits: { import_leads: 2 } },
    });
    assert.equal(patch.statusCode, 200);
    const refused = await post(t, '/api/v1/leads/import', { leads: [{ phone: '+12125550299' }] });
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error?.code, 'rate_limited');
    const retry = Number(refused.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    // Another business is not affected.
    assert.equal((await post(other, '/api/v1/leads/import', { leads: [{ phone: '+12125550299' }] })).status, 202);
    // Once the window has moved past the earlier requests, the next one passes.
    await env.pool.query(`UPDATE jobs SET created_at = created_at - interval '61 seconds' WHERE business_id = $1`, [t.businessId]);
    assert.equal((await post(t, '/api/v1/leads/import', { leads: [{ phone: '+12125550299' }] })).status, 202);
  });

  test('the lock is released when the job is cancelled and when it completes', async () => {
    const t = await createTenant(env);
    const ids = await seedLeads(t, 5);
    // Three jobs in a minute: lift the 2/min default so only the lock can refuse.
    await env.app.inject({
      method: 'PATCH',
      url: `/api/v1/admin/businesses/${t.businessId}`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { rate_limits: { update_leads_bulk: 100 } },
    });
    const first = await post(t, '/api/v1/leads/bulk-update', { lead_ids: ids, set: { status: 'a' } });
    assert.equal(first.status, 202);
    assert.equal((await post(t, '/api/v1/leads/bulk-update', { lead_ids: ids, set: { status: 'b' } })).status, 429);
    const cancel = await env.app.inject({ method: 'POST', url: `/api/v1/jobs/${String(first.body.job_id)}/cancel`, headers: t.headers });
    assert.equal(cancel.statusCode, 200);
    assert.equal(cancel.json().status, 'cancelled');
    const second = await post(t, '/api/v1/leads/bulk-update', { lead_ids: ids, set: { status: 'c' } });
    assert.equal(second.status, 202);
    const worker = await env.startWorker();
    await waitForJob(env, Number(second.body.job_id), 'completed');
    await worker.stop();
    const third = await post(t, '/api/v1/leads/bulk-update', { lead_ids: ids, set: { status: 'd' } });
    assert.equal(third.status, 202);
  });

  test('Idempotency-Key: same key and body replays the answer; another body is 422; a refusal is not remembered', async () => {
    const t = await createTenant(env);
    const key = { 'idempotency-key': 'abc-123' };
    const a = await post(t, '/api/v1/leads/import', { leads: [{ phone: '+12125550301' }] }, key);
    const b = await post(t, '/api/v1/leads/import', { leads: [{ phone: '+12125550301' }] }, key);
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    assert.deepEqual(b.body, a.body);
    assert.equal(await jobCount(t, 'import_leads'), 1);
    const c = await post(t, '/api/v1/leads/import', { leads: [{ phone: '+12125550302' }] }, key);
    assert.equal(c.status, 422);
    assert.equal(c.body.error?.code, 'idempotency_key_reused');
    assert.equal(await jobCount(t, 'import_leads'), 1);

    // A 429 with a key is not stored: once the blocker is gone, the same key goes through.
    const ids = await seedLeads(t, 3);
    const blocker = await post(t, '/api/v1/leads/bulk-delete', { lead_ids: ids });
    const k2 = { 'idempotency-key': 'retry-me' };
    assert.equal((await post(t, '/api/v1/leads/bulk-delete', { lead_ids: [ids[0]] }, k2)).status, 429);
    await env.app.inject({ method: 'POST', url: `/api/v1/jobs/${String(blocker.body.job_id)}/cancel`, headers: t.headers });
    assert.equal((await post(t, '/api/v1/leads/bulk-delete', { lead_ids: [ids[0]] }, k2)).status, 202);
  });

  test('parallel requests with one Idempotency-Key create one job and all get the same answer', async () => {
    const t = await createTenant(env);
    const ids = await seedLeads(t, 3);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => post(t, '/api/v1/leads/bulk-delete', { lead_ids: ids }, { 'idempotency-key': 'same' })),
    );
    assert.ok(answers.every((a) => a.status === 202), answers.map((a) => a.status).join(','));
    assert.equal(new Set(answers.map((a) => a.body.job_id)).size, 1);
    assert.equal(await jobCount(t, 'delete_leads_bulk'), 1);
  });
});
