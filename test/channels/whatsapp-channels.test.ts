import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SIM_WHATSAPP_APP_SECRET } from '../../src/config/config.js';
import { signBody } from '../../src/providers/whatsapp/signature.js';
import { buildEnvelope } from '../../src/providers/whatsapp/webhook-payload.js';
import { waitFor, waitForJob, type Tenant } from '../helpers/harness.js';
import { api, createTenant, phones, PHONE_NUMBER_ID, recipientRows, startBroadcastEnv, waitForSettled, type BroadcastEnv } from '../broadcasts/helpers.js';

/**
 * Issue 14: each business broadcasts from its own WhatsApp number with its own token, paced per
 * number, and its delivery webhooks are verified with its own app secret. The simulator is two
 * apps here: each number refuses any token but its own and signs its webhooks with its own secret.
 */
const MPS = 10;
const A = { number: '200000000000001', token: 'EAAG-token-of-business-a-0001', appSecret: 'app-secret-of-business-a-0001' };
const B = { number: '200000000000002', token: 'EAAG-token-of-business-b-0002', appSecret: 'app-secret-of-business-b-0002' };

let b: BroadcastEnv;
let ta: Tenant;
let tb: Tenant;

before(async () => {
  b = await startBroadcastEnv({ mps: MPS }, { env: { WHATSAPP_MPS: String(MPS) } });
  for (const x of [A, B]) b.sim.addNumber(x.number, { token: x.token, appSecret: x.appSecret });
  ta = await createTenant(b.env);
  tb = await createTenant(b.env);
  for (const [t, x] of [[ta, A], [tb, B]] as const) {
    const res = await b.env.app.inject({
      method: 'PUT', url: '/api/v1/channels/whatsapp', headers: t.headers,
      payload: { phone_number_id: x.number, access_token: x.token, app_secret: x.appSecret },
    });
    assert.equal(res.statusCode, 200, res.body);
  }
});
after(() => b.close());

/** The most messages of `times` (ms) within any window of `windowMs`. */
function maxInWindow(times: number[], windowMs = 1000): number {
  const t = [...times].sort((x, y) => x - y);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i += 1) {
    while ((t[i] ?? 0) - (t[j] ?? 0) >= windowMs) j += 1;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

async function postWebhook(envelope: unknown, secret: string) {
  const body = JSON.stringify(envelope);
  return b.env.app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, secret) }, payload: body });
}

describe('two businesses with their own WhatsApp numbers', () => {
  test('broadcast at once: each from its own number with its own token, each number paced to its own limit, each one\'s webhooks verified with its own app secret and settling its own recipients', async () => {
    const n = 4 * MPS;
    const toA = phones(n, 0, '212');
    const toB = phones(n, 0, '646');
    const [ra, rb] = await Promise.all([
      api(b.env, ta, 'POST', '/api/v1/whatsapp/broadcasts', { text: 'hello from A', recipients: toA.map((phone) => ({ phone })) }),
      api(b.env, tb, 'POST', '/api/v1/whatsapp/broadcasts', { text: 'hello from B', recipients: toB.map((phone) => ({ phone })) }),
    ]);
    assert.equal(ra.status, 202, JSON.stringify(ra.body));
    assert.equal(rb.status, 202, JSON.stringify(rb.body));
    const [ja, jb] = await Promise.all([waitForJob(b.env, Number(ra.body.job_id), 'completed', 60_000), waitForJob(b.env, Number(rb.body.job_id), 'completed', 60_000)]);
    assert.deepEqual([ja.succeeded, jb.succeeded], [n, n]);

    const fromA = b.sim.acceptedFrom(A.number);
    const fromB = b.sim.acceptedFrom(B.number);
    assert.deepEqual(fromA.map((m) => m.to).sort(), [...toA].sort(), 'A\'s recipients, all from A\'s number');
    assert.deepEqual(fromB.map((m) => m.to).sort(), [...toB].sort(), 'B\'s recipients, all from B\'s number');
    assert.equal(b.sim.acceptedFrom(PHONE_NUMBER_ID).length, 0, 'nothing from the deployment\'s number');
    assert.ok(fromA.every((m) => m.tokenTail === A.token.slice(-4)) && fromB.every((m) => m.tokenTail === B.token.slice(-4)), 'each with its own token');

    // Pacing per number: each stays within its own limit (the simulator's window per number; on a
    // loaded machine a late timer can bunch two sends, refused and retried), while the two together
    // went faster than one number's limit (they were not paced as one sender).
    const refused = b.sim.refusals.get(130429) ?? 0;
    assert.ok(refused <= n / 10, `${refused} throughput refusals`);
    assert.ok(maxInWindow(fromA.map((m) => m.at)) <= MPS && maxInWindow(fromB.map((m) => m.at)) <= MPS);
    const together = maxInWindow([...fromA, ...fromB].map((m) => m.at));
    assert.ok(together >= MPS * 1.4, `both numbers together sent ${together} in a second (one limit: ${MPS})`);

    const views = await Promise.all([waitForSettled(b, ta, Number(ra.body.broadcast_id)), waitForSettled(b, tb, Number(rb.body.broadcast_id))]);
    for (const v of views) {
      assert.equal(v.counts.read, n, `broadcast ${v.id}: every status webhook verified and applied (${JSON.stringify(v.counts)})`);
      assert.ok(!JSON.stringify(v).includes(A.token) && !JSON.stringify(v).includes(B.token));
    }
    const shown = await api(b.env, ta, 'GET', `/api/v1/whatsapp/broadcasts/${String(ra.body.broadcast_id)}`);
    assert.equal(shown.body.phone_number_id, A.number);
  });

  test('a status webhook about A\'s number signed with B\'s app secret (or the deployment\'s) is 403 and changes nothing; A\'s own secret settles it', async () => {
    const res = await api(b.env, ta, 'POST', '/api/v1/whatsapp/broadcasts', { text: 'one', recipients: [{ phone: phones(1, 500, '212')[0] }] });
    b.sim.setDelivery({ statuses: false });
    try {
      await waitForJob(b.env, Number(res.body.job_id), 'completed');
      const [row] = await recipientRows(b.env.pool, Number(res.body.broadcast_id));
      assert.ok(row?.message_id);
      const failed = buildEnvelope(A.number, { statuses: [{ id: row.message_id, status: 'failed', timestamp: String(Math.floor(Date.now() / 1000)), errors: [{ code: 131026 }] }] });
      for (const secret of [B.appSecret, SIM_WHATSAPP_APP_SECRET]) {
        const forged = await postWebhook(failed, secret);
        assert.equal(forged.statusCode, 403, forged.body);
      }
      assert.equal((await recipientRows(b.env.pool, Number(res.body.broadcast_id)))[0]?.status, 'sent', 'unchanged');
      const own = await postWebhook(buildEnvelope(A.number, { statuses: [{ id: row.message_id, status: 'delivered', timestamp: String(Math.floor(Date.now() / 1000)) }] }), A.appSecret);
      assert.equal(own.statusCode, 200, own.body);
      assert.equal((await recipientRows(b.env.pool, Number(res.body.broadcast_id)))[0]?.status, 'delivered');
      // Both numbers in one body need two secrets: no single signature covers them.
      const mixed = { object: 'whatsapp_business_account', entry: [...buildEnvelope(A.number, {}).entry, ...buildEnvelope(B.number, {}).entry] };
      assert.equal((await postWebhook(mixed, A.appSecret)).statusCode, 403);
    } finally {
      b.sim.setDelivery({ statuses: true });
    }
  });

  test('a webhook for a number nobody here sends from is acknowledged and ignored, whatever signed it', async () => {
    const stranger = buildEnvelope('299999999999999', { statuses: [{ id: 'wamid.stranger', status: 'read', timestamp: '1700000000' }] });
    for (const secret of ['another-apps-secret', SIM_WHATSAPP_APP_SECRET]) {
      const res = await postWebhook(stranger, secret);
      assert.equal(res.statusCode, 200, res.body);
    }
    const { rows } = await b.env.pool.query(`SELECT 1 FROM whatsapp_pending_statuses WHERE message_id = 'wamid.stranger'`);
    assert.equal(rows.length, 0, 'nothing parked');
  });

  test('a STOP to A\'s number opts out of A only, even when B messaged that phone too', async () => {
    const phone = phones(1, 700, '718')[0] ?? '';
    for (const t of [ta, tb]) {
      const res = await api(b.env, t, 'POST', '/api/v1/whatsapp/broadcasts', { text: 'x', recipients: [{ phone }] });
      await waitForJob(b.env, Number(res.body.job_id), 'completed');
    }
    assert.equal(await b.sim.sendInbound(phone, 'STOP', A.number), 200);
    await waitFor(async () => (await api(b.env, ta, 'GET', '/api/v1/whatsapp/opt-outs')).body.items, 'A\'s opt-out');
    const optOuts = async (t: Tenant) => ((await api(b.env, t, 'GET', '/api/v1/whatsapp/opt-outs')).body.items as Array<{ phone: string }>).map((o) => o.phone);
    assert.deepEqual(await optOuts(ta), [phone]);
    assert.deepEqual(await optOuts(tb), []);
  });

  test('a business without its own channel still sends from the deployment\'s number', async () => {
    const tc = await createTenant(b.env);
    const res = await api(b.env, tc, 'POST', '/api/v1/whatsapp/broadcasts', { text: 'x', recipients: [{ phone: phones(1, 800, '212')[0] }] });
    await waitForJob(b.env, Number(res.body.job_id), 'completed');
    assert.equal(b.sim.acceptedFrom(PHONE_NUMBER_ID).length, 1);
  });
});
