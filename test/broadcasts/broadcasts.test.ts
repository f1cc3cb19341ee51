import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SIM_WHATSAPP_APP_SECRET } from '../../src/config/config.js';
import { signBody } from '../../src/providers/whatsapp/signature.js';
import { WA_ERRORS } from '../../src/providers/whatsapp/types.js';
import { buildEnvelope } from '../../src/providers/whatsapp/webhook-payload.js';
import { waitFor, waitForJob, type Tenant } from '../helpers/harness.js';
import { PHONE_NUMBER_ID, api, createTenant, getBroadcast, phones, recipientRows, startBroadcastEnv, sumCounts, waitForSettled, type BroadcastEnv } from './helpers.js';

/**
 * Broadcasts end to end: HTTP API → gate → job → paced sends to the simulator over HTTP →
 * signed status webhooks back into the API. The simulator is scripted per test.
 */
let b: BroadcastEnv;
let t: Tenant;

before(async () => {
  // Our pacer runs at twice what the simulator accepts: bursts get the real 130429.
  b = await startBroadcastEnv({ mps: 150, statusOrder: 'in_order' }, { env: { WHATSAPP_MPS: '300' } });
  t = await createTenant(b.env);
});

after(async () => {
  await b.close();
});

describe('a broadcast to 1,000 recipients', () => {
  test('duplicates once, opt-outs skipped, rate-limited retried, failures classified, counts add up, each phone accepted at most once', async () => {
    const list = phones(1000);
    const optedOut = list.slice(0, 20);
    for (const p of optedOut) assert.equal((await api(b.env, t, 'POST', '/api/v1/whatsapp/opt-outs', { phone: p })).status, 201);
    const notOnWa = list.slice(100, 105);
    const windowClosed = list.slice(200, 205);
    const asyncWindowClosed = list.slice(300, 303);
    const pairLimited = list.slice(400, 403);
    for (const p of notOnWa) b.sim.failFor(p, WA_ERRORS.notOnWhatsApp);
    for (const p of windowClosed) b.sim.failFor(p, WA_ERRORS.windowClosed);
    for (const p of asyncWindowClosed) b.sim.failFor(p, WA_ERRORS.windowClosed, { async: true });
    for (const p of pairLimited) b.sim.failFor(p, WA_ERRORS.pairRate, { times: 1 });
    // Throughput refusals whatever the machine's speed: the pacer's bursts above the simulator's
    // cap give more of them on a fast machine, but a slow one (PostgreSQL 15 on a loaded CI box)
    // may never outrun the cap, and the retry path must be exercised either way.
    const throughputLimited = list.slice(600, 610);
    for (const p of throughputLimited) b.sim.failFor(p, WA_ERRORS.throughput, { times: 1 });
    // 50 duplicates: the same numbers typed locally ("(212) 555-0500") and as E.164.
    const dupes = list.slice(500, 550).map((p) => `(${p.slice(2, 5)}) ${p.slice(5, 8)}-${p.slice(8)}`);
    const res = await api(b.env, t, 'POST', '/api/v1/whatsapp/broadcasts', {
      text: 'Our store opens at 9 tomorrow.',
      recipients: [...list, ...dupes].map((phone) => ({ phone })),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual([res.body.recipients, res.body.duplicates, res.body.skipped], [1000, 50, 20]);
    const id = res.body.broadcast_id as number;
    const job = await waitForJob(b.env, res.body.job_id as number, 'completed', 90_000);
    const view = await waitForSettled(b, t, id);

    assert.equal(sumCounts(view.counts), 1000, 'counts add up to the recipients');
    assert.equal(view.counts.skipped, 20);
    assert.equal(view.counts.failed, 13);
    assert.equal(view.counts.read, 1000 - 20 - 13, 'everyone else was sent and (in the simulator) read');
    assert.equal(job.total, 1000);
    assert.equal(job.processed, 1000);

    const rows = await recipientRows(b.env.pool, id);
    const by = new Map(rows.map((r) => [r.phone, r]));
    for (const p of optedOut) assert.deepEqual([by.get(p)?.status, by.get(p)?.reason], ['skipped', 'opted_out']);
    for (const p of notOnWa) assert.deepEqual([by.get(p)?.status, by.get(p)?.reason, by.get(p)?.error_code], ['failed', 'not_on_whatsapp', 131026]);
    for (const p of windowClosed) assert.deepEqual([by.get(p)?.status, by.get(p)?.reason, by.get(p)?.error_code], ['failed', 'needs_template', 131047]);
    for (const p of asyncWindowClosed) assert.deepEqual([by.get(p)?.status, by.get(p)?.reason], ['failed', 'needs_template']);
    for (const p of [...pairLimited, ...throughputLimited]) {
      assert.equal(by.get(p)?.status, 'read', 'rate-limited: retried, then sent');
      assert.ok((by.get(p)?.attempts ?? 0) >= 2);
    }

    // At most once: the simulator's own record of what it accepted.
    const acceptedTimes = new Map<string, number>();
    for (const m of b.sim.accepted) acceptedTimes.set(m.to, (acceptedTimes.get(m.to) ?? 0) + 1);
    assert.deepEqual([...acceptedTimes.entries()].filter(([, n]) => n > 1), [], 'no phone accepted twice');
    for (const p of optedOut) assert.equal(acceptedTimes.get(p), undefined, 'opted-out numbers never sent');
    assert.equal(acceptedTimes.size, 1000 - 20 - 10, 'accepted: everyone but the opted-out and the synchronously refused');
    const throttled = b.sim.refusals.get(WA_ERRORS.throughput) ?? 0;
    assert.ok(throttled > 0, 'the burst was rate-limited by the simulator');
    assert.equal(rows.filter((r) => r.reason === 'retries_exhausted').length, 0, 'no rate-limit failure reached a recipient');
    const retried = rows.filter((r) => r.attempts > 1 && r.status === 'read').length;
    assert.ok(retried >= throttled / 2, `rate-limited recipients were retried and sent (${retried} retried, ${throttled} refusals)`);
  });
});

async function postWebhook(body: string, signature: string | null) {
  const res = await b.env.app.inject({
    method: 'POST',
    url: '/webhooks/whatsapp',
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'x-hub-signature-256': signature }) },
    payload: body,
  });
  return res.statusCode;
}

async function smallBroadcast(tenant: Tenant, list: string[], extra: Record<string, unknown> = { text: 'hi' }) {
  const res = await api(b.env, tenant, 'POST', '/api/v1/whatsapp/broadcasts', { ...extra, recipients: list.map((phone) => ({ phone })) });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return { id: res.body.broadcast_id as number, jobId: res.body.job_id as number };
}

describe('delivery webhooks', () => {
  test('statuses arriving newest first and twice end in the right status; a late sent/delivered never undoes read', async () => {
    const tenant = await createTenant(b.env);
    b.sim.setDelivery({ statusOrder: 'reversed', duplicateEvery: 1 });
    try {
      const list = phones(30, 2000);
      const { id, jobId } = await smallBroadcast(tenant, list);
      await waitForJob(b.env, jobId, 'completed');
      const view = await waitForSettled(b, tenant, id);
      assert.deepEqual(view.counts, { queued: 0, sending: 0, sent: 0, delivered: 0, read: 30, failed: 0, skipped: 0 });
      const rows = await recipientRows(b.env.pool, id);
      assert.ok(rows.every((r) => r.message_id?.startsWith('wamid.')));
    } finally {
      b.sim.setDelivery({ statusOrder: 'in_order', duplicateEvery: 0 });
    }
  });

  test('sent → failed applies; failed after read is ignored; failed is terminal; duplicates change nothing', async () => {
    const tenant = await createTenant(b.env);
    b.sim.setDelivery({ statuses: false });
    try {
      const list = phones(3, 2100);
      const { id, jobId } = await smallBroadcast(tenant, list);
      await waitForJob(b.env, jobId, 'completed');
      const rows = await recipientRows(b.env.pool, id);
      const [a, r, c] = rows.map((x) => x.message_id ?? '');
      const ts = String(Math.floor(Date.now() / 1000));
      const ev = (mid: string | undefined, status: string, code?: number) =>
        ({ id: mid ?? '', status, timestamp: ts, recipient_id: '1', ...(code ? { errors: [{ code, title: 'x' }] } : {}) });
      const body = JSON.stringify(buildEnvelope(PHONE_NUMBER_ID, {
        statuses: [ev(a, 'failed', 131026), ev(a, 'delivered'), ev(r, 'read'), ev(r, 'failed', 131000), ev(r, 'delivered'), ev(c, 'delivered'), ev(c, 'delivered')],
      }));
      assert.equal(await postWebhook(body, signBody(body, SIM_WHATSAPP_APP_SECRET)), 200);
      const after = await recipientRows(b.env.pool, id);
      assert.deepEqual(after.map((x) => [x.status, x.reason]), [['failed', 'not_on_whatsapp'], ['read', null], ['delivered', null]]);
      const again = await getBroadcast(b.env, tenant, id);
      assert.equal(sumCounts(again.counts), 3);
    } finally {
      b.sim.setDelivery({ statuses: true });
    }
  });

  test('callback data settles a recipient whose message id was never recorded, only in its own business and broadcast', async () => {
    const tenant = await createTenant(b.env);
    const other = await createTenant(b.env);
    b.sim.setDelivery({ statuses: false });
    try {
      const mine = await smallBroadcast(tenant, phones(5, 2200));
      const theirs = await smallBroadcast(other, phones(2, 2300));
      await waitForJob(b.env, mine.jobId, 'completed');
      await waitForJob(b.env, theirs.jobId, 'completed');
      // What a kill -9 between the provider's answer and recordOutcomes leaves: no message id,
      // `sending` (before the next batch) or failed unknown_outcome (after it).
      const { rows } = await b.env.pool.query<{ id: number; business_id: number }>(
        `SELECT id, business_id FROM whatsapp_recipients WHERE broadcast_id = $1 ORDER BY id`, [mine.id]);
      const ids = rows.map((r) => r.id);
      const businessId = rows[0]?.business_id ?? 0;
      await b.env.pool.query(`UPDATE whatsapp_recipients SET status = 'failed', reason = 'unknown_outcome', message_id = NULL WHERE id = ANY($1::bigint[])`, [ids.slice(0, 4)]);
      await b.env.pool.query(`UPDATE whatsapp_recipients SET status = 'sending', reason = NULL, message_id = NULL WHERE id = $1`, [ids[4]]);
      const [theirRow] = await recipientRows(b.env.pool, theirs.id);
      const { rows: [theirBiz] } = await b.env.pool.query<{ business_id: number; id: number }>(
        `SELECT business_id, id FROM whatsapp_recipients WHERE broadcast_id = $1 ORDER BY id LIMIT 1`, [theirs.id]);
      const ts = String(Math.floor(Date.now() / 1000));
      const ev = (mid: string, status: string, data: string, code?: number) =>
        ({ id: mid, status, timestamp: ts, recipient_id: '1', biz_opaque_callback_data: data, ...(code ? { errors: [{ code, title: 'x' }] } : {}) });
      const ref = (biz: number, bc: number, rid: number | undefined) => `bh:${biz}:${bc}:${rid ?? 0}`;
      const body = JSON.stringify(buildEnvelope(PHONE_NUMBER_ID, { statuses: [
        ev('wamid.CB0', 'sent', ref(businessId, mine.id, ids[0])),
        ev('wamid.CB0', 'read', ref(businessId, mine.id, ids[0])),
        ev('wamid.CB1', 'delivered', ref(theirBiz?.business_id ?? 0, mine.id, ids[1])), // another business named
        ev('wamid.CB2', 'delivered', ref(businessId, theirs.id, ids[2])), // another broadcast named
        ev('wamid.CB3', 'failed', ref(businessId, mine.id, ids[3]), 131026),
        ev('wamid.CB4', 'delivered', ref(businessId, mine.id, ids[4])),
        ev('wamid.CB5', 'delivered', ref(theirBiz?.business_id ?? 0, theirs.id, theirBiz?.id)), // has its message id already
      ] }));
      assert.equal(await postWebhook(body, signBody(body, SIM_WHATSAPP_APP_SECRET)), 200);
      const after = await recipientRows(b.env.pool, mine.id);
      assert.deepEqual(after.map((x) => [x.status, x.reason, x.message_id]), [
        ['read', null, 'wamid.CB0'],
        ['failed', 'unknown_outcome', null],
        ['failed', 'unknown_outcome', null],
        ['failed', 'not_on_whatsapp', 'wamid.CB3'],
        ['delivered', null, 'wamid.CB4'],
      ]);
      // Not adopted: parked like any unknown message id (and cleaned up here, other tests count them).
      const { rows: parked } = await b.env.pool.query<{ message_id: string }>(
        `DELETE FROM whatsapp_pending_statuses WHERE message_id LIKE 'wamid.CB%' RETURNING message_id`);
      assert.deepEqual(parked.map((p) => p.message_id).sort(), ['wamid.CB1', 'wamid.CB2', 'wamid.CB5']);
      const [theirAfter] = await recipientRows(b.env.pool, theirs.id);
      assert.deepEqual([theirAfter?.status, theirAfter?.message_id], [theirRow?.status, theirRow?.message_id]);
      // The job completed before the correction: the broadcast's counts are recounted from its rows.
      const view = await getBroadcast(b.env, tenant, mine.id);
      assert.equal(view.status, 'completed');
      assert.deepEqual(view.counts, { queued: 0, sending: 0, sent: 0, delivered: 1, read: 1, failed: 3, skipped: 0 });
    } finally {
      b.sim.setDelivery({ statuses: true });
    }
  });

  test('forged, unsigned or tampered webhooks: 403 and nothing changes', async () => {
    const tenant = await createTenant(b.env);
    b.sim.setDelivery({ statuses: false });
    try {
      const { id, jobId } = await smallBroadcast(tenant, phones(1, 2200));
      await waitForJob(b.env, jobId, 'completed');
      const [row] = await recipientRows(b.env.pool, id);
      assert.equal(row?.status, 'sent');
      const body = JSON.stringify(buildEnvelope(PHONE_NUMBER_ID, {
        statuses: [{ id: row?.message_id ?? '', status: 'failed', timestamp: String(Math.floor(Date.now() / 1000)), errors: [{ code: 131026 }] }],
      }));
      assert.equal(await postWebhook(body, null), 403, 'unsigned');
      assert.equal(await postWebhook(body, signBody(body, 'not-the-app-secret')), 403, 'wrong secret');
      assert.equal(await postWebhook(body, 'sha256=' + '0'.repeat(64)), 403, 'zero signature');
      assert.equal(await postWebhook(`${body} `, signBody(body, SIM_WHATSAPP_APP_SECRET)), 403, 'body changed after signing');
      assert.equal(await postWebhook(body, signBody(body, SIM_WHATSAPP_APP_SECRET).toUpperCase().replace('SHA256=', 'sha1=')), 403, 'other scheme');
      const [still] = await recipientRows(b.env.pool, id);
      assert.equal(still?.status, 'sent', 'nothing changed');
      const { rows } = await b.env.pool.query(`SELECT count(*)::int AS n FROM whatsapp_pending_statuses`);
      assert.equal(rows[0]?.n, 0, 'nothing parked either');
    } finally {
      b.sim.setDelivery({ statuses: true });
    }
  });

  test('verification challenge: echoed with the right token, 403 otherwise', async () => {
    const ok = await b.env.app.inject({ method: 'GET', url: '/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=sim-verify-token&hub.challenge=1158201444' });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.body, '1158201444');
    for (const q of ['hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1', 'hub.mode=unsubscribe&hub.verify_token=sim-verify-token&hub.challenge=1', 'hub.challenge=1', '']) {
      const res = await b.env.app.inject({ method: 'GET', url: `/webhooks/whatsapp?${q}` });
      assert.equal(res.statusCode, 403, q);
    }
  });

  test('an inbound STOP opts the number out of the business that messaged it (and no other); the next broadcast skips it', async () => {
    const sender = await createTenant(b.env);
    const other = await createTenant(b.env);
    const [target, bystander] = phones(2, 2300);
    const first = await smallBroadcast(sender, [target ?? '', bystander ?? '']);
    await waitForJob(b.env, first.jobId, 'completed');
    assert.equal(await b.sim.sendInbound(target ?? '', '  stop \n'), 200);
    assert.equal(await b.sim.sendInbound(bystander ?? '', 'stop please'), 200, 'not a STOP');
    const list = await api(b.env, sender, 'GET', '/api/v1/whatsapp/opt-outs');
    assert.deepEqual((list.body.items as { phone: string; source: string }[]).map((o) => [o.phone, o.source]), [[target, 'inbound_stop']]);
    assert.deepEqual((await api(b.env, other, 'GET', '/api/v1/whatsapp/opt-outs')).body.items, []);
    const second = await api(b.env, sender, 'POST', '/api/v1/whatsapp/broadcasts', { text: 'again', recipients: [{ phone: target }, { phone: bystander }] });
    assert.equal(second.body.skipped, 1);
  });
});

describe('spam restriction', () => {
  test('131048 stops the broadcast: the job fails with a clear error, unsent recipients stay queued, nothing is lost from the counts', async () => {
    const tenant = await createTenant(b.env);
    const list = phones(400, 3000);
    const before = b.sim.accepted.length;
    const { id, jobId } = await smallBroadcast(tenant, list);
    await waitFor(async () => b.sim.accepted.length - before >= 100, 'some sent');
    b.sim.restrictSender(true);
    try {
      const job = await waitForJob(b.env, jobId, 'failed', 30_000);
      assert.match(job.last_error ?? '', /restricted this sender for spam \(error 131048/);
      await b.sim.drained();
      const view = await getBroadcast(b.env, tenant, id);
      assert.equal(view.status, 'failed');
      assert.match(view.error ?? '', /131048/);
      assert.equal(sumCounts(view.counts), 400);
      assert.equal(view.counts.sending, 0);
      assert.ok(view.counts.queued > 0, 'the rest were never sent');
      const sentSide = view.counts.sent + view.counts.delivered + view.counts.read;
      assert.equal(sentSide, b.sim.accepted.length - before, 'sent = what the provider accepted');
    } finally {
      b.sim.restrictSender(false);
    }
  });
});

describe('validation and tenant isolation', () => {
  test('bad input: 400 naming the path, nothing created', async () => {
    const tenant = await createTenant(b.env);
    const cases: [unknown, string][] = [
      [{ text: 'x', recipients: [{ phone: '+12125550100' }, { phone: 'not a phone' }] }, 'body.recipients.1.phone'],
      [{ recipients: [{ phone: '+12125550100' }] }, 'body'],
      [{ text: 'x', template: { name: 'a', language: 'en' }, recipients: [{ phone: '+12125550100' }] }, 'body'],
      [{ text: 'x' }, 'body'],
      [{ template: { name: 'Bad Name', language: 'en' }, lead_ids: [1] }, 'body.template.name'],
    ];
    for (const [payload, path] of cases) {
      const res = await api(b.env, tenant, 'POST', '/api/v1/whatsapp/broadcasts', payload);
      assert.equal(res.status, 400, JSON.stringify(payload));
      assert.ok(res.body.error?.details?.issues?.some((i) => i.path === path), `${JSON.stringify(res.body.error)} names ${path}`);
    }
    const { rows } = await b.env.pool.query(`SELECT count(*)::int AS n FROM whatsapp_broadcasts WHERE business_id = $1`, [tenant.businessId]);
    assert.equal(rows[0]?.n, 0);
  });

  test('another business: its lead ids are refused like unknown ones, its broadcasts, recipients and opt-outs are 404 / never listed', async () => {
    const owner = await createTenant(b.env);
    const intruder = await createTenant(b.env);
    const lead = await api(b.env, owner, 'POST', '/api/v1/leads', { phone: '+16465550001', name: 'Ann' });
    assert.equal(lead.status, 201);
    const leadId = lead.body.id as number;
    await api(b.env, owner, 'POST', '/api/v1/whatsapp/opt-outs', { phone: '+16465550099' });

    const theirs = await api(b.env, intruder, 'POST', '/api/v1/whatsapp/broadcasts', { text: 'x', lead_ids: [leadId] });
    const missing = await api(b.env, intruder, 'POST', '/api/v1/whatsapp/broadcasts', { text: 'x', lead_ids: [leadId + 100_000] });
    assert.equal(theirs.status, 400);
    assert.deepEqual(theirs.body.error?.details, { issues: [{ path: 'body.lead_ids.0', message: 'is not a lead of your business' }] });
    assert.deepEqual(theirs.body.error?.details, missing.body.error?.details, 'same answer as a lead that does not exist');

    const { id, jobId } = await smallBroadcast(owner, [], { text: 'hello', lead_ids: [leadId] });
    await waitForJob(b.env, jobId, 'completed');
    const mine = await waitForSettled(b, owner, id);
    assert.equal(mine.counts.sent + mine.counts.delivered + mine.counts.read, 1);
    for (const url of [`/api/v1/whatsapp/broadcasts/${id}`, `/api/v1/whatsapp/broadcasts/${id}/recipients`]) {
      const res = await api(b.env, intruder, 'GET', url);
      assert.equal(res.status, 404, url);
      assert.equal(res.body.error?.code, 'not_found');
    }
    assert.deepEqual((await api(b.env, intruder, 'GET', '/api/v1/whatsapp/broadcasts')).body.items, []);
    assert.deepEqual((await api(b.env, intruder, 'GET', '/api/v1/whatsapp/opt-outs')).body.items, []);
    const recips = await api(b.env, owner, 'GET', `/api/v1/whatsapp/broadcasts/${id}/recipients?status=read`);
    assert.deepEqual((recips.body.items as { lead_id: number; phone: string }[]).map((r) => [r.lead_id, r.phone]), [[leadId, '+16465550001']]);
  });

  test('opt-outs: normalized, idempotent, paginated', async () => {
    const tenant = await createTenant(b.env);
    const first = await api(b.env, tenant, 'POST', '/api/v1/whatsapp/opt-outs', { phone: '(212) 555-7001' });
    const again = await api(b.env, tenant, 'POST', '/api/v1/whatsapp/opt-outs', { phone: '+1 212 555 7001' });
    assert.deepEqual([first.status, again.status], [201, 201]);
    assert.equal(first.body.phone, '+12125557001');
    assert.equal(first.body.id, again.body.id);
    assert.equal((await api(b.env, tenant, 'POST', '/api/v1/whatsapp/opt-outs', { phone: 'nope' })).status, 400);
    await api(b.env, tenant, 'POST', '/api/v1/whatsapp/opt-outs', { phone: '+12125557002' });
    const page1 = await api(b.env, tenant, 'GET', '/api/v1/whatsapp/opt-outs?limit=1');
    assert.equal((page1.body.items as unknown[]).length, 1);
    const page2 = await api(b.env, tenant, 'GET', `/api/v1/whatsapp/opt-outs?limit=1&cursor=${String(page1.body.next_cursor)}`);
    assert.deepEqual((page2.body.items as { phone: string }[]).map((o) => o.phone), ['+12125557002']);
  });

  test('the list shows each broadcast with its own counts, the same as its own page', async () => {
    const tenant = await createTenant(b.env);
    await api(b.env, tenant, 'POST', '/api/v1/whatsapp/opt-outs', { phone: '+12125558102' });
    b.sim.failFor('+12125558201', WA_ERRORS.notOnWhatsApp);
    // One active broadcast per business (the gate): the second starts when the first is done.
    const one = await smallBroadcast(tenant, phones(3, 8100));
    await waitForJob(b.env, one.jobId, 'completed');
    const two = await smallBroadcast(tenant, phones(5, 8200));
    await waitForJob(b.env, two.jobId, 'completed');
    await waitForSettled(b, tenant, one.id);
    await waitForSettled(b, tenant, two.id);
    const listed = (await api(b.env, tenant, 'GET', '/api/v1/whatsapp/broadcasts')).body.items as Array<{ id: number; counts: Record<string, number>; total: number }>;
    assert.deepEqual(listed.map((x) => x.id), [two.id, one.id]);
    for (const item of listed) {
      const own = await api(b.env, tenant, 'GET', `/api/v1/whatsapp/broadcasts/${item.id}`);
      assert.deepEqual(item.counts, own.body.counts, `broadcast ${item.id}`);
    }
    assert.deepEqual([listed[0]?.total, listed[1]?.total], [5, 3]);
    assert.equal(listed[1]?.counts.skipped, 1, 'the opted-out number of the first broadcast');
    assert.equal(listed[0]?.counts.failed, 1, 'the number not on WhatsApp in the second');
  });
});
