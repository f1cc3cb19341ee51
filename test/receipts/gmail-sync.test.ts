import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Receipt } from '../../src/contract/index.js';
import type { GoogleSimulator } from '../../src/providers/google/simulator.js';
import { newReceiptMail } from '../../src/providers/google/seed.js';
import { isReceiptsModule, type ReceiptsModule } from '../../src/receipts/module.js';
import { createTenant, startTestEnv, waitForJob, type Tenant, type TestEnv } from '../helpers/harness.js';

/**
 * Issue 17 end to end: the production wiring with the in-process Google simulator, reached
 * through google-auth-library and @googleapis/gmail. Connect through the simulator's consent
 * redirect; sync the seeded mailbox once; rerun, new mail, delete all, expired history, a
 * failure in the middle of a batch, a revoked grant, another business.
 */

let env: TestEnv;
let t: Tenant;
let other: Tenant;
let sim: GoogleSimulator;
let receipts: ReceiptsModule;

/** What the seeded mailbox holds as receipts (src/providers/google/seed.ts), by vendor. */
const EXPECTED = [
  { vendor: 'Wolt', amount: 64.8, currency: 'ILS', has_attachment: false },
  { vendor: 'בזק', amount: 1234.5, currency: 'ILS', has_attachment: true },
  { vendor: 'Amazon.com', amount: 51.97, currency: 'USD', has_attachment: false },
  { vendor: 'Booking.com', amount: 1250, currency: 'EUR', has_attachment: true },
  { vendor: 'tfl.gov.uk', amount: 12.4, currency: 'GBP', has_attachment: false },
  { vendor: 'סלקום', amount: 199, currency: 'ILS', has_attachment: true },
];

async function api<T = Record<string, unknown>>(who: Tenant, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) {
  const res = await env.app.inject({ method, url, headers: { ...who.headers, ...headers }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  return { status: res.statusCode, body: (res.body ? res.json() : null) as T, headers: res.headers };
}

async function allReceipts(who: Tenant): Promise<Receipt[]> {
  const res = await api<{ items: Receipt[] }>(who, 'GET', '/api/v1/receipts?limit=500');
  assert.equal(res.status, 200);
  return res.body.items;
}

/** Asks for a sync and waits for its job to end; returns the job. */
async function sync(who: Tenant, body?: { full: boolean }) {
  const res = await api<{ job_id: number }>(who, 'POST', '/api/v1/receipts/sync', body);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return { jobId: res.body.job_id, ...(await waitForJob(env, res.body.job_id, (j) => ['completed', 'failed', 'cancelled'].includes(j.status), 10_000)) };
}

/** POST connect, follow the consent like a browser, arrive at our callback; returns the callback's answer. */
async function consent(who: Tenant) {
  const started = await api<{ auth_url: string }>(who, 'POST', '/api/v1/integrations/gmail/connect');
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const google = await fetch(started.body.auth_url, { redirect: 'manual' });
  assert.equal(google.status, 302);
  const back = new URL(google.headers.get('location') ?? '');
  assert.equal(back.pathname, '/oauth/google/callback');
  return back;
}

async function callback(url: URL) {
  const res = await env.app.inject({ method: 'GET', url: `${url.pathname}${url.search}` });
  return { status: res.statusCode, type: res.headers['content-type'], body: res.body };
}

const sortByVendor = (rs: Receipt[]) => [...rs].sort((a, b) => a.vendor.localeCompare(b.vendor));
const shape = (rs: Receipt[]) => sortByVendor(rs).map((r) => ({ vendor: r.vendor, amount: r.amount, currency: r.currency, has_attachment: r.has_attachment }));

before(async () => {
  env = await startTestEnv({ env: { GMAIL_SYNC_EVERY_MS: '3600000', JOB_RETRY_BASE_MS: '20', GATE_DEDUP_WINDOW_S: '0' } });
  const m = env.modules.find(isReceiptsModule);
  assert.ok(m);
  receipts = m;
  const s = receipts.simulator();
  assert.ok(s, 'no GOOGLE_CLIENT_ID: the process runs the simulator');
  sim = s;
  t = await createTenant(env);
  other = await createTenant(env);
  await env.pool.query(`UPDATE businesses SET rate_limits = '{"sync_gmail_receipts":1000,"delete_receipts_all":1000}'::jsonb WHERE id = ANY($1::bigint[])`, [[t.businessId, other.businessId]]);
});
after(() => env.close());

describe('Gmail receipts', () => {
  test('connect through the consent redirect; the state works once, for its business only', async () => {
    assert.equal((await api(t, 'POST', '/api/v1/receipts/sync')).body.error !== undefined, true);
    const back = await consent(t);
    const done = await callback(back);
    assert.equal(done.status, 200, done.body);
    assert.match(String(done.type), /^text\/html/);
    assert.match(done.body, /url=\/#\/receipts\?gmail=connected/);
    const status = await api(t, 'GET', '/api/v1/integrations/gmail');
    assert.deepEqual({ ...status.body, last_sync_at: null }, { connected: true, email: 'owner@example.co.il', status: 'connected', last_sync_at: null, last_error: null });

    const { rows } = await env.pool.query<{ refresh_token_sealed: string }>(`SELECT refresh_token_sealed FROM gmail_connections WHERE business_id = $1`, [t.businessId]);
    assert.match(rows[0]?.refresh_token_sealed ?? '', /^v1\./, 'the refresh token is sealed');
    assert.doesNotMatch(JSON.stringify(status.body), /1\/\//);
    const audit = await env.pool.query(`SELECT action FROM audit_log WHERE business_id = $1 AND action = 'integration.connect'`, [t.businessId]);
    assert.equal(audit.rowCount, 1);

    // Replayed, unknown, expired: refused, nothing changes.
    const replay = await callback(back);
    assert.equal(replay.status, 403);
    assert.equal(JSON.parse(replay.body).error.code, 'oauth_state_invalid');
    const forged = new URL(back);
    forged.searchParams.set('state', 'x'.repeat(43));
    assert.equal((await callback(forged)).status, 403);
    const late = await consent(other);
    await env.pool.query(`UPDATE gmail_oauth_states SET expires_at = now() - interval '1 second'`);
    assert.equal((await callback(late)).status, 403);
    const noState = new URL(back);
    noState.searchParams.delete('state');
    assert.equal((await callback(noState)).status, 403);
    assert.deepEqual((await api(other, 'GET', '/api/v1/integrations/gmail')).body, { connected: false, email: null, status: null, last_sync_at: null, last_error: null });
    const he = await env.app.inject({ method: 'GET', url: `${back.pathname}${back.search}`, headers: { 'accept-language': 'he' } });
    assert.match(JSON.parse(he.body).error.message, /[\u05d0-\u05ea]/);
  });

  test('the first sync imports exactly the seeded receipts, with their amounts, currencies and PDFs; a rerun imports nothing', async () => {
    const job = await sync(t);
    assert.equal(job.status, 'completed', JSON.stringify(job));
    assert.equal(job.result?.mode, 'full');
    assert.deepEqual(job.result?.skipped, { no_amount: 1, ambiguous_amount: 1 });
    const list = await allReceipts(t);
    assert.deepEqual(shape(list), sortByVendor(EXPECTED as Receipt[]).map((r) => ({ vendor: r.vendor, amount: r.amount, currency: r.currency, has_attachment: r.has_attachment })));
    for (const r of list) {
      assert.equal(r.source, 'gmail');
      assert.match(r.gmail_message_id ?? '', /^[0-9a-f]+$/);
      assert.ok(r.subject && r.from);
    }
    const status = await api(t, 'GET', '/api/v1/integrations/gmail');
    assert.ok(status.body.last_sync_at);

    const again = await sync(t);
    assert.equal(again.status, 'completed');
    assert.equal(again.result?.mode, 'incremental');
    assert.equal(again.result?.imported, 0);
    assert.equal((await allReceipts(t)).length, EXPECTED.length);
  });

  test('the PDF is served to its business only', async () => {
    const bezeq = (await allReceipts(t)).find((r) => r.vendor === 'בזק');
    assert.ok(bezeq);
    const pdf = await env.app.inject({ method: 'GET', url: `/api/v1/receipts/${bezeq.id}/attachment`, headers: t.headers });
    assert.equal(pdf.statusCode, 200);
    assert.equal(pdf.headers['content-type'], 'application/pdf');
    assert.equal(pdf.rawPayload.subarray(0, 5).toString(), '%PDF-');
    assert.match(String(pdf.headers['content-disposition']), /bezeq-invoice-10\.pdf/);
    assert.equal((await api(other, 'GET', `/api/v1/receipts/${bezeq.id}/attachment`)).status, 404);
    const wolt = (await allReceipts(t)).find((r) => r.vendor === 'Wolt');
    assert.equal((await api(t, 'GET', `/api/v1/receipts/${wolt?.id}/attachment`)).status, 404);
    assert.equal((await api(t, 'GET', '/api/v1/receipts/999999999/attachment')).status, 404);
  });

  test('new mail: the next (incremental) sync adds exactly it', async () => {
    const id = sim.addMessage(newReceiptMail(new Date(), 1));
    sim.addMessage({ from: 'Dan <dan@example.com>', subject: 'Coffee?', date: new Date(), text: 'Tomorrow at 10?' });
    const job = await sync(t);
    assert.equal(job.result?.mode, 'incremental');
    assert.equal(job.result?.imported, 1);
    assert.deepEqual(job.result?.skipped, { not_a_receipt: 1 });
    const added = (await allReceipts(t)).filter((r) => r.gmail_message_id === id);
    assert.deepEqual(added.map((r) => [r.vendor, r.amount, r.currency]), [['Yango', 41, 'ILS']]);
    assert.equal((await allReceipts(t)).length, EXPECTED.length + 1);
  });

  test('a failure in the middle of a batch (Gmail 503, then 429) rolls it back; the retried batch imports each receipt once', async () => {
    sim.addMessage(newReceiptMail(new Date(), 2));
    sim.addMessage(newReceiptMail(new Date(), 3));
    // history.list answers, the first message is read, then Gmail fails twice.
    sim.failNext([503, 429], 2);
    const job = await sync(t);
    assert.equal(job.status, 'completed', JSON.stringify(job));
    assert.equal(sim.pendingFailures, 0, 'Gmail answered both failures');
    const list = await allReceipts(t);
    assert.equal(list.length, EXPECTED.length + 3);
    assert.equal(new Set(list.map((r) => r.gmail_message_id)).size, list.length);
    assert.equal((await api(t, 'GET', '/api/v1/integrations/gmail')).body.last_error, null);
  });

  test('expired history: a full resync, no duplicates', async () => {
    sim.addMessage(newReceiptMail(new Date(), 4));
    sim.expireHistory();
    const job = await sync(t);
    assert.equal(job.status, 'completed', JSON.stringify(job));
    assert.equal(job.result?.fell_back, true);
    assert.equal(job.result?.mode, 'full');
    assert.equal(job.result?.imported, 1);
    const list = await allReceipts(t);
    assert.equal(list.length, EXPECTED.length + 4);
    assert.equal(new Set(list.map((r) => r.gmail_message_id)).size, list.length);
    assert.equal((await sync(t)).result?.mode, 'incremental', 'the full sync stored a fresh historyId');
  });

  test('delete all: incremental and fallback syncs do not bring receipts back; an explicit full resync does', async () => {
    const del = await api<{ job_id: number }>(t, 'DELETE', '/api/v1/receipts');
    assert.equal(del.status, 202);
    assert.equal((await waitForJob(env, del.body.job_id, 'completed', 10_000)).status, 'completed');
    assert.equal((await allReceipts(t)).length, 0);
    assert.equal((await sync(t)).result?.imported, 0);
    sim.expireHistory();
    const fallback = await sync(t);
    assert.equal(fallback.result?.fell_back, true);
    assert.equal(fallback.result?.imported, 0);
    assert.equal((await allReceipts(t)).length, 0);
    const full = await sync(t, { full: true });
    assert.equal(full.status, 'completed');
    assert.equal((await allReceipts(t)).length, EXPECTED.length + 4);
    assert.equal((await env.pool.query(`SELECT 1 FROM gmail_deleted_messages WHERE business_id = $1`, [t.businessId])).rowCount, 0);
  });

  test('another business sees none of it', async () => {
    assert.deepEqual(await allReceipts(other), []);
    const res = await api(other, 'POST', '/api/v1/receipts/sync');
    assert.equal(res.status, 409);
    assert.equal((res.body as { error: { code: string } }).error.code, 'gmail_not_connected');
    assert.deepEqual((await api(other, 'GET', '/api/v1/integrations/gmail')).body.connected, false);
  });

  test('a revoked grant: reauth_required, one failed job, no periodic retries, a message a person can act on', async () => {
    sim.revokeGrant();
    const tokenCalls = sim.counts.token;
    const job = await sync(t);
    assert.equal(job.status, 'failed');
    assert.match(job.last_error ?? '', /Connect Gmail again/);
    const { rows } = await env.pool.query<{ attempts: number }>(`SELECT attempts FROM jobs WHERE id = $1`, [job.jobId]);
    assert.equal(rows[0]?.attempts, 1, 'failed at once, not retried');
    assert.ok(sim.counts.token - tokenCalls <= 2, `${sim.counts.token - tokenCalls} token requests`);
    const en = await api(t, 'GET', '/api/v1/integrations/gmail');
    assert.equal(en.body.status, 'reauth_required');
    assert.equal(en.body.connected, false);
    assert.match(String(en.body.last_error), /Connect Gmail again/);
    const he = await api(t, 'GET', '/api/v1/integrations/gmail', undefined, { 'accept-language': 'he' });
    assert.match(String(he.body.last_error), /חברו את Gmail מחדש/);

    await env.pool.query(`UPDATE gmail_connections SET next_sync_at = now() - interval '1 hour'`);
    assert.equal(await receipts.syncDue(), 0, 'no periodic sync while reauth is required');
    const refused = await api(t, 'POST', '/api/v1/receipts/sync');
    assert.equal(refused.status, 409);
    assert.equal((refused.body as { error: { code: string } }).error.code, 'gmail_reauth_required');

    // Connecting again resumes: the same mailbox keeps its historyId.
    assert.equal((await callback(await consent(t))).status, 200);
    assert.equal((await api(t, 'GET', '/api/v1/integrations/gmail')).body.status, 'connected');
    assert.equal(await receipts.syncDue(), 1, 'connected again: its periodic sync is due');
    assert.equal(await receipts.syncDue(), 0, 'one at a time');
    const { rows: jobs } = await env.pool.query<{ id: number }>(`SELECT id FROM jobs WHERE business_id = $1 AND type = 'sync_gmail_receipts' AND created_by IS NULL`, [t.businessId]);
    const periodic = await waitForJob(env, jobs[0]?.id ?? 0, 'completed', 10_000);
    assert.equal(periodic.result?.mode, 'incremental');
  });

  test('disconnect revokes the grant at Google and deletes the token', async () => {
    assert.equal(sim.hasLiveGrant(), true);
    const res = await api(t, 'DELETE', '/api/v1/integrations/gmail');
    assert.equal(res.status, 204);
    assert.equal(sim.hasLiveGrant(), false);
    assert.equal((await env.pool.query(`SELECT 1 FROM gmail_connections WHERE business_id = $1`, [t.businessId])).rowCount, 0);
    assert.equal((await api(t, 'GET', '/api/v1/integrations/gmail')).body.connected, false);
    const audit = await env.pool.query(`SELECT details FROM audit_log WHERE business_id = $1 AND action = 'integration.disconnect'`, [t.businessId]);
    assert.equal(audit.rowCount, 1);
    assert.equal((await allReceipts(t)).length, EXPECTED.length + 4, 'the receipts stay');
  });
});
