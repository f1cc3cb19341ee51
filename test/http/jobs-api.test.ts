import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, createTenant, startTestEnv, waitForJob, type TestEnv, type Tenant } from '../helpers/harness.js';

let env: TestEnv;

before(async () => {
  env = await startTestEnv({ worker: false, listen: true, env: { JOB_BATCH_SIZE: '20' } });
});
after(() => env.close());

let seeded = 0;
async function seedLeads(t: Tenant, n: number): Promise<number[]> {
  const { rows } = await env.pool.query<{ id: number }>(
    `INSERT INTO leads (business_id, phone) SELECT $1, '+1646' || lpad(i::text, 7, '0') FROM generate_series($3::int + 1, $3::int + $2::int) i RETURNING id`,
    [t.businessId, n, (seeded += n) - n],
  );
  return rows.map((r) => r.id);
}

async function bulkDelete(t: Tenant, ids: number[]): Promise<number> {
  const res = await env.app.inject({ method: 'POST', url: '/api/v1/leads/bulk-delete', headers: t.headers, payload: { lead_ids: ids } });
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(res.headers.location, `/api/v1/jobs/${res.json().job_id}`);
  return res.json().job_id as number;
}

describe('jobs API', () => {
  test('a job reports progress, counts and timestamps; another business gets 404', async () => {
    const t = await createTenant(env);
    const other = await createTenant(env);
    const ids = await seedLeads(t, 50);
    const jobId = await bulkDelete(t, [...ids, 999_999_999]);
    const queued = (await env.app.inject({ url: `/api/v1/jobs/${jobId}`, headers: t.headers })).json();
    assert.equal(queued.status, 'queued');
    assert.equal(queued.total, 51);
    assert.equal(queued.progress, 0);
    assert.equal(queued.type, 'delete_leads_bulk');
    assert.equal(queued.queue, 'maintenance');
    const w = await env.startWorker({ JOB_BATCH_SIZE: '20' });
    await waitForJob(env, jobId, 'completed');
    await w.stop();
    const done = (await env.app.inject({ url: `/api/v1/jobs/${jobId}`, headers: t.headers })).json();
    assert.equal(done.progress, 1);
    assert.equal(done.succeeded, 50);
    assert.equal(done.failed, 1);
    assert.ok(done.started_at && done.finished_at && done.created_at);
    const hidden = await env.app.inject({ url: `/api/v1/jobs/${jobId}`, headers: other.headers });
    assert.equal(hidden.statusCode, 404);
    assert.equal(hidden.json().error.code, 'not_found');
    for (const action of ['pause', 'resume', 'cancel']) {
      const r = await env.app.inject({ method: 'POST', url: `/api/v1/jobs/${jobId}/${action}`, headers: other.headers });
      assert.equal(r.statusCode, 404, `${action} of another business's job`);
    }
  });

  test('transitions: pause, resume, cancel, and 409 invalid_transition for the rest', async () => {
    const t = await createTenant(env);
    const jobId = await bulkDelete(t, await seedLeads(t, 3));
    const call = (a: string) => env.app.inject({ method: 'POST', url: `/api/v1/jobs/${jobId}/${a}`, headers: t.headers });
    assert.equal((await call('resume')).statusCode, 409);
    const paused = await call('pause');
    assert.equal(paused.json().status, 'paused', 'no worker holds a queued job: paused at once');
    assert.equal(paused.json().pause_requested, false);
    const twice = await call('pause');
    assert.equal(twice.statusCode, 409);
    assert.match(twice.json().error.message, /it is paused; only a queued or running job can be paused/);
    assert.equal((await call('resume')).json().status, 'queued');
    assert.equal((await call('cancel')).json().status, 'cancelled');
    const again = await call('resume');
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().error.code, 'invalid_transition');
    assert.match(again.json().error.message, /cancelled/);
  });

  test('list: newest first, filters, cursor pagination without gaps or repeats', async () => {
    const t = await createTenant(env);
    const created: number[] = [];
    for (let i = 0; i < 7; i++) {
      const jobId = await bulkDelete(t, await seedLeads(t, 1));
      await env.app.inject({ method: 'POST', url: `/api/v1/jobs/${jobId}/cancel`, headers: t.headers });
      created.push(jobId);
      await env.pool.query(`UPDATE jobs SET created_at = created_at - interval '1 hour' WHERE id = $1`, [jobId]);
    }
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/v1/jobs?limit=3&status=cancelled${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await env.app.inject({ url, headers: t.headers })).json() as { items: { id: number }[]; next_cursor: string | null };
      assert.ok(page.items.length <= 3);
      seen.push(...page.items.map((j) => j.id));
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, [...created].reverse());
    const none = (await env.app.inject({ url: '/api/v1/jobs?status=running', headers: t.headers })).json();
    assert.deepEqual(none.items, []);
    const bad = await env.app.inject({ url: '/api/v1/jobs?cursor=garbage', headers: t.headers });
    assert.equal(bad.statusCode, 400);
    const badLimit = await env.app.inject({ url: '/api/v1/jobs?limit=501', headers: t.headers });
    assert.equal(badLimit.statusCode, 400);
    assert.equal(badLimit.json().error.details.issues[0].path, 'querystring.limit');
  });

  test('SSE: progress events on every change until the job ends, from NOTIFY', async () => {
    const t = await createTenant(env);
    const jobId = await bulkDelete(t, await seedLeads(t, 200));
    const res = await fetch(`${env.baseUrl}/api/v1/jobs/${jobId}/events`, { headers: t.headers });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const w = await env.startWorker({ JOB_BATCH_SIZE: '20', JOB_BATCH_PAUSE_MS: '20' });
    const text = await res.text(); // the server closes the stream after the terminal status
    await w.stop();
    const events = text.split('\n\n').filter((e) => e.startsWith('event: progress'));
    const jobs = events.map((e) => JSON.parse(e.split('\ndata: ')[1] ?? '{}') as { status: string; processed: number });
    assert.equal(jobs[0]?.status, 'queued');
    assert.equal(jobs.at(-1)?.status, 'completed');
    assert.equal(jobs.at(-1)?.processed, 200);
    assert.ok(jobs.length >= 5, `saw ${jobs.length} progress events`);
    const processed = jobs.map((j) => j.processed);
    assert.deepEqual(processed, [...processed].sort((a, b) => a - b), 'progress never goes back');
  });
});

describe('HTTP conventions', () => {
  test('401 without or with a bad token; admin routes need the admin token', async () => {
    assert.equal((await env.app.inject({ url: '/api/v1/jobs' })).statusCode, 401);
    const bad = await env.app.inject({ url: '/api/v1/jobs', headers: { authorization: 'Bearer nope' } });
    assert.equal(bad.statusCode, 401);
    assert.equal(bad.json().error.code, 'unauthorized');
    const t = await createTenant(env);
    const asTenant = await env.app.inject({ method: 'POST', url: '/api/v1/admin/businesses', headers: t.headers, payload: { name: 'x' } });
    assert.equal(asTenant.statusCode, 401);
  });

  test('admin: create business, add user, patch limits; bad input names the field', async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const created = await env.app.inject({ method: 'POST', url: '/api/v1/admin/businesses', headers: admin, payload: { name: 'Acme', max_outbound_calls: 5, timezone: 'Asia/Jerusalem' } });
    assert.equal(created.statusCode, 201);
    const { business, token, user } = created.json();
    assert.equal(business.max_outbound_calls, 5);
    assert.ok(typeof token === 'string' && token.startsWith('bh_'));
    assert.ok(user.id > 0);
    const u = await env.app.inject({ method: 'POST', url: `/api/v1/admin/businesses/${business.id}/users`, headers: admin, payload: { email: 'a@acme.test' } });
    assert.equal(u.statusCode, 201);
    const dup = await env.app.inject({ method: 'POST', url: `/api/v1/admin/businesses/${business.id}/users`, headers: admin, payload: { email: 'a@acme.test' } });
    assert.equal(dup.statusCode, 409);
    const tz = await env.app.inject({ method: 'POST', url: '/api/v1/admin/businesses', headers: admin, payload: { name: 'X', timezone: 'Mars/Olympus' } });
    assert.equal(tz.statusCode, 400);
    assert.equal(tz.json().error.details.issues[0].path, 'body.timezone');
    const patch = await env.app.inject({ method: 'PATCH', url: `/api/v1/admin/businesses/${business.id}`, headers: admin, payload: { rate_limits: { no_such_op: 1 } } });
    assert.equal(patch.statusCode, 400);
    const missing = await env.app.inject({ method: 'PATCH', url: '/api/v1/admin/businesses/999999', headers: admin, payload: { max_outbound_calls: 2 } });
    assert.equal(missing.statusCode, 404);
  });

  test('unknown route 404, malformed JSON 400, body too large 413, ops endpoints', async () => {
    const t = await createTenant(env);
    const nf = await env.app.inject({ url: '/api/v1/nope', headers: t.headers });
    assert.equal(nf.statusCode, 404);
    assert.equal(nf.json().error.code, 'not_found');
    const malformed = await env.app.inject({ method: 'POST', url: '/api/v1/leads/bulk-delete', headers: { ...t.headers, 'content-type': 'application/json' }, payload: '{"lead_ids": [1,' });
    assert.equal(malformed.statusCode, 400);
    const huge = await fetch(`${env.baseUrl}/api/v1/leads/bulk-delete`, {
      method: 'POST',
      headers: { ...t.headers, 'content-type': 'application/json' },
      body: `{"lead_ids": [${'1,'.repeat(9_000_000)}1]}`,
    });
    assert.equal(huge.status, 413);
    assert.equal((await env.app.inject({ url: '/healthz' })).statusCode, 200);
    assert.equal((await env.app.inject({ url: '/readyz' })).json().status, 'ready');
    const metrics = await env.app.inject({ url: '/metrics' });
    assert.match(metrics.body, /bulkhead_jobs\{/);
    assert.match(metrics.body, /bulkhead_gate_refusals_total/);
    const docs = await env.app.inject({ url: '/docs/json' });
    assert.equal(docs.statusCode, 200);
    assert.ok(docs.json().paths['/api/v1/jobs/{id}/pause']);
  });
});
