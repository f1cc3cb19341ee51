import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newReceiptMail } from '../../src/providers/google/seed.js';
import type { GoogleSimulator } from '../../src/providers/google/simulator.js';
import { isReceiptsModule } from '../../src/receipts/module.js';
import { createTenant, startTestEnv, waitForJob, type Tenant, type TestEnv } from '../helpers/harness.js';
import { addUser, http, signIn } from '../people/helpers.js';

/**
 * Issue 17, the rest of the Build list: a consent started from a dashboard session completes
 * only in that browser, for that user; the sync is a job like the others — gated (one at a
 * time), pausable and cancellable between pages, resumed from its checkpoint without duplicates.
 */

let env: TestEnv;
let sim: GoogleSimulator;
/** The seeded mailbox's 6 receipts and the ones this file adds. */
const ADDED = 54;
const RECEIPTS = 6 + ADDED;

before(async () => {
  // Pages of 10 messages; each is paced to Gmail's quota (~0.3 s), so a pause or cancel lands between pages.
  env = await startTestEnv({ listen: true, env: { GMAIL_SYNC_EVERY_MS: '3600000', GATE_DEDUP_WINDOW_S: '0', JOB_BATCH_SIZE: '10' } });
  const s = env.modules.find(isReceiptsModule)?.simulator();
  assert.ok(s);
  sim = s;
  for (let i = 0; i < ADDED; i++) sim.addMessage(newReceiptMail(new Date(Date.now() - i * 3_600_000), i + 10));
});
after(() => env.close());

async function tenant(): Promise<Tenant> {
  const t = await createTenant(env);
  await env.pool.query(`UPDATE businesses SET rate_limits = '{"sync_gmail_receipts":1000}'::jsonb WHERE id = $1`, [t.businessId]);
  return t;
}

/** Follows a consent URL like the browser; returns our callback URL (on this API's port). */
async function throughGoogle(authUrl: string): Promise<string> {
  const google = await fetch(authUrl, { redirect: 'manual' });
  assert.equal(google.status, 302);
  const back = new URL(google.headers.get('location') ?? '');
  return `${env.baseUrl}${back.pathname}${back.search}`;
}

async function connectByToken(t: Tenant): Promise<void> {
  const started = await http<{ auth_url: string }>(env, 'POST', '/integrations/gmail/connect', { bearer: t.token });
  assert.equal(started.status, 200);
  assert.equal((await fetch(await throughGoogle(started.body.auth_url))).status, 200);
}

async function startSync(t: Tenant, body: { full?: boolean } = {}): Promise<number> {
  const res = await http<{ job_id: number }>(env, 'POST', '/receipts/sync', { bearer: t.token, body });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body.job_id;
}

async function receiptsOf(t: Tenant): Promise<Array<{ gmail_message_id: string; n: number }>> {
  const { rows } = await env.pool.query<{ gmail_message_id: string; n: number }>(
    `SELECT gmail_message_id, count(*)::int AS n FROM receipts WHERE business_id = $1 GROUP BY gmail_message_id`, [t.businessId]);
  return rows;
}

describe('Gmail: consent from the dashboard, and the sync as a job', () => {
  test('a consent started from a session completes only in that browser, for that user', async () => {
    const t = await tenant();
    const email = `admin-${t.businessId}@example.com`;
    const userId = await addUser(env, t, email, 'admin');
    const session = await signIn(env, email);
    const start = async () => {
      const res = await http<{ auth_url: string }>(env, 'POST', '/integrations/gmail/connect', { jar: session.jar, csrf: session.csrf });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const nonce = res.cookies.get('bh_gmail_oauth');
      assert.ok(nonce?.value, 'the browser nonce cookie');
      assert.match(nonce.attrs, /HttpOnly/i);
      return { callback: await throughGoogle(res.body.auth_url), nonce: nonce.value };
    };

    // Sent to someone else (no cookie, or another browser's): refused, and the state is spent.
    const first = await start();
    const stranger = await fetch(first.callback);
    assert.equal(stranger.status, 403);
    assert.equal(((await stranger.json()) as { error: { code: string } }).error.code, 'oauth_state_invalid');
    assert.equal((await fetch(first.callback, { headers: { cookie: `bh_gmail_oauth=${first.nonce}` } })).status, 403, 'used once');
    const second = await start();
    const other = await start();
    assert.equal((await fetch(second.callback, { headers: { cookie: `bh_gmail_oauth=${other.nonce}` } })).status, 403);
    const none = await http<{ connected: boolean }>(env, 'GET', '/integrations/gmail', { bearer: t.token });
    assert.equal(none.body.connected, false);

    // The same browser: connected, on record as the user who started it.
    const ok = await fetch(other.callback, { headers: { cookie: `bh_gmail_oauth=${other.nonce}` } });
    assert.equal(ok.status, 200, await ok.text());
    const { rows } = await env.pool.query<{ connected_by: number }>(`SELECT connected_by::int FROM gmail_connections WHERE business_id = $1`, [t.businessId]);
    assert.deepEqual(rows, [{ connected_by: userId }]);
    const audit = await env.pool.query<{ user_id: number }>(
      `SELECT user_id::int FROM audit_log WHERE business_id = $1 AND action = 'integration.connect'`, [t.businessId]);
    assert.deepEqual(audit.rows, [{ user_id: userId }]);
  });

  test('paused between pages: a second sync is refused (one at a time); resumed, it goes on from its checkpoint, each receipt once', async () => {
    const t = await tenant();
    await connectByToken(t);
    const jobId = await startSync(t);
    await waitForJob(env, jobId, (j) => j.processed >= 10, 10_000);
    assert.equal((await http(env, 'POST', `/jobs/${jobId}/pause`, { bearer: t.token })).status, 200);
    const paused = await waitForJob(env, jobId, 'paused', 10_000);
    assert.ok(paused.processed < 8 + ADDED, `paused at ${paused.processed}`);

    const refused = await http<{ error: { code: string } }>(env, 'POST', '/receipts/sync', { bearer: t.token, body: {} });
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'operation_in_progress');
    const before = await receiptsOf(t);
    assert.ok(before.length < RECEIPTS);

    assert.equal((await http(env, 'POST', `/jobs/${jobId}/resume`, { bearer: t.token })).status, 200);
    const done = await waitForJob(env, jobId, (j) => ['completed', 'failed', 'cancelled'].includes(j.status), 15_000);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.result?.imported, RECEIPTS);
    const after = await receiptsOf(t);
    assert.equal(after.length, RECEIPTS);
    assert.ok(after.every((r) => r.n === 1));
  });

  test('cancelled between pages: what was imported stays; the next sync imports the rest, nothing twice', async () => {
    const t = await tenant();
    await connectByToken(t);
    const jobId = await startSync(t);
    await waitForJob(env, jobId, (j) => j.processed >= 10, 10_000);
    assert.equal((await http(env, 'POST', `/jobs/${jobId}/cancel`, { bearer: t.token })).status, 200);
    const cancelled = await waitForJob(env, jobId, (j) => ['completed', 'failed', 'cancelled'].includes(j.status), 10_000);
    assert.equal(cancelled.status, 'cancelled');
    const part = await receiptsOf(t);
    assert.ok(part.length > 0 && part.length < RECEIPTS, `${part.length} receipts after the cancel`);
    const { rows } = await env.pool.query<{ history_id: string | null }>(`SELECT history_id FROM gmail_connections WHERE business_id = $1`, [t.businessId]);
    assert.equal(rows[0]?.history_id, null, 'a cancelled first sync stores no historyId: the next one is full again');

    const next = await waitForJob(env, await startSync(t), (j) => ['completed', 'failed', 'cancelled'].includes(j.status), 15_000);
    assert.equal(next.status, 'completed', JSON.stringify(next));
    assert.equal(next.result?.mode, 'full');
    assert.equal(next.result?.imported, RECEIPTS - part.length);
    assert.equal(next.result?.already_known, part.length);
    const all = await receiptsOf(t);
    assert.equal(all.length, RECEIPTS);
    assert.ok(all.every((r) => r.n === 1));
  });
});
