import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { callbackDataFor } from '../../src/broadcasts/callback-data.js';
import { applyMatchedPendingStatuses, PENDING_STATUSES_PER_SENDER } from '../../src/broadcasts/delivery.repo.js';
import { SIM_WHATSAPP_APP_SECRET } from '../../src/config/config.js';
import { signBody } from '../../src/providers/whatsapp/signature.js';
import { buildEnvelope, type StatusEvent } from '../../src/providers/whatsapp/webhook-payload.js';
import { waitForJob, type Tenant } from '../helpers/harness.js';
import { PHONE_NUMBER_ID, api, createTenant, phones, recipientRows, startBroadcastEnv, type BroadcastEnv } from './helpers.js';

/**
 * WhatsApp statuses are bound to their sender (issue 12, point 6; README "Webhook security"): a
 * status settles a message only when the number that reports it (`metadata.phone_number_id`) is
 * the sender of the message's broadcast, and a sender's unknown statuses park at most
 * PENDING_STATUSES_PER_SENDER rows. Every webhook here is correctly signed: the app secret is
 * shared by every number of the app, so the signature alone does not say which number's it is.
 */
let b: BroadcastEnv;

/** A number of the same app that never sent this message. */
const OTHER_SENDER = '100000000000999';

before(async () => {
  b = await startBroadcastEnv({ mps: 1000 });
  b.sim.setDelivery({ statuses: false });
});

after(async () => {
  await b.close();
});

async function postSigned(envelope: unknown): Promise<number> {
  const body = JSON.stringify(envelope);
  const res = await b.env.app.inject({
    method: 'POST',
    url: '/webhooks/whatsapp',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, SIM_WHATSAPP_APP_SECRET) },
    payload: body,
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.statusCode;
}

const now = () => String(Math.floor(Date.now() / 1000));

function status(id: string, s: string, extra: Partial<StatusEvent> = {}): StatusEvent {
  return { id, status: s, timestamp: now(), recipient_id: '12125550100', ...extra };
}

/** A sent broadcast of one recipient (the simulator posts no statuses in this file). */
async function sentOne(t: Tenant, phone: string) {
  const res = await api(b.env, t, 'POST', '/api/v1/whatsapp/broadcasts', { text: 'hi', recipients: [{ phone }] });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const id = res.body.broadcast_id as number;
  await waitForJob(b.env, res.body.job_id as number, 'completed');
  const { rows } = await b.env.pool.query<{ id: number; business_id: number; message_id: string }>(
    `SELECT id, business_id, message_id FROM whatsapp_recipients WHERE broadcast_id = $1`, [id]);
  const row = rows[0];
  assert.ok(row?.message_id, 'sent, with its message id');
  return { broadcastId: id, recipientId: row.id, businessId: row.business_id, messageId: row.message_id };
}

/** A broadcast row of `sender` (no job runs it): makes `sender` a number that has sent broadcasts. */
async function broadcastOf(t: Tenant, sender: string): Promise<void> {
  await b.env.pool.query(
    `INSERT INTO whatsapp_broadcasts (business_id, job_id, phone_number_id, message) VALUES ($1, 0, $2, '{"type":"text","text":"x"}')`,
    [t.businessId, sender],
  );
}

/** Parked statuses whose message id matches the LIKE `pattern`. */
async function parked(pattern: string): Promise<number> {
  const { rows } = await b.env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM whatsapp_pending_statuses WHERE message_id LIKE $1`, [pattern]);
  return rows[0]?.n ?? 0;
}

describe('whatsapp statuses are matched by (phone number id, message id)', () => {
  test('a status for a message id, reported by another phone number id, does not settle it; the same from its sender does', async () => {
    const t = await createTenant(b.env);
    const m = await sentOne(t, phones(1, 4000)[0] ?? '');
    await postSigned(buildEnvelope(OTHER_SENDER, { statuses: [status(m.messageId, 'failed', { errors: [{ code: 131026 }] })] }));
    await postSigned(buildEnvelope(OTHER_SENDER, { statuses: [status(m.messageId, 'read')] }));
    const [still] = await recipientRows(b.env.pool, m.broadcastId);
    assert.deepEqual([still?.status, still?.reason], ['sent', null], 'not settled by another number');
    assert.equal(await parked(m.messageId), 0, 'a number that never sent a broadcast parks nothing');

    await postSigned(buildEnvelope(PHONE_NUMBER_ID, { statuses: [status(m.messageId, 'delivered')] }));
    const [settled] = await recipientRows(b.env.pool, m.broadcastId);
    assert.equal(settled?.status, 'delivered', 'its own sender settles it');
  });

  test('callback data does not let another number adopt a recipient whose outcome is unknown', async () => {
    const t = await createTenant(b.env);
    const m = await sentOne(t, phones(1, 4100)[0] ?? '');
    await b.env.pool.query(`UPDATE whatsapp_recipients SET status = 'failed', reason = 'unknown_outcome', message_id = NULL WHERE id = $1`, [m.recipientId]);
    const data = callbackDataFor({ businessId: m.businessId, broadcastId: m.broadcastId, recipientId: m.recipientId });
    await postSigned(buildEnvelope(OTHER_SENDER, { statuses: [status('wamid.OTHER1', 'delivered', { biz_opaque_callback_data: data })] }));
    const [still] = await recipientRows(b.env.pool, m.broadcastId);
    assert.deepEqual([still?.status, still?.reason, still?.message_id], ['failed', 'unknown_outcome', null]);

    await postSigned(buildEnvelope(PHONE_NUMBER_ID, { statuses: [status('wamid.OWN1', 'delivered', { biz_opaque_callback_data: data })] }));
    const [adopted] = await recipientRows(b.env.pool, m.broadcastId);
    assert.deepEqual([adopted?.status, adopted?.message_id], ['delivered', 'wamid.OWN1']);
  });

  test("a status parked for one number is never applied to another number's message of that id", async () => {
    const t = await createTenant(b.env);
    await broadcastOf(t, OTHER_SENDER);
    const m = await sentOne(t, phones(1, 4200)[0] ?? '');
    await postSigned(buildEnvelope(OTHER_SENDER, { statuses: [status('wamid.LATER', 'failed', { errors: [{ code: 131026 }] })] }));
    assert.equal(await parked('wamid.LATER'), 1, 'parked');
    // Our message turns out to have that id (the worker records it late).
    await b.env.pool.query(`UPDATE whatsapp_recipients SET message_id = 'wamid.LATER' WHERE id = $1`, [m.recipientId]);
    await applyMatchedPendingStatuses(b.env.pool);
    const [still] = await recipientRows(b.env.pool, m.broadcastId);
    assert.equal(still?.status, 'sent', 'not settled by the other number');
    await b.env.pool.query(`DELETE FROM whatsapp_pending_statuses WHERE message_id = 'wamid.LATER'`);
  });
});

describe('parked statuses are capped per sender', () => {
  test(`one signed request parks at most ${PENDING_STATUSES_PER_SENDER} unknown statuses of a sender; a replay or a second request parks nothing more; other senders keep their own room`, async () => {
    const t = await createTenant(b.env);
    const sender = '100000000000777';
    await broadcastOf(t, sender);
    const over = PENDING_STATUSES_PER_SENDER + 200;
    const flood = buildEnvelope(sender, { statuses: Array.from({ length: over }, (_, i) => status(`wamid.FLOOD${i}`, 'delivered')) });
    await postSigned(flood);
    assert.equal(await parked('wamid.FLOOD%'), PENDING_STATUSES_PER_SENDER, 'capped');
    await postSigned(flood);
    await postSigned(buildEnvelope(sender, { statuses: Array.from({ length: 50 }, (_, i) => status(`wamid.MORE${i}`, 'read')) }));
    assert.equal(await parked('wamid.FLOOD%') + await parked('wamid.MORE%'), PENDING_STATUSES_PER_SENDER, 'still capped, none parked twice');
    const { rows } = await b.env.pool.query<{ phone_number_id: string | null }>(`SELECT DISTINCT phone_number_id FROM whatsapp_pending_statuses WHERE message_id LIKE 'wamid.FLOOD%'`);
    assert.deepEqual(rows.map((r) => r.phone_number_id), [sender], 'parked under the number that reported them');

    await postSigned(buildEnvelope(PHONE_NUMBER_ID, { statuses: [status('wamid.ELSEWHERE', 'delivered')] }));
    assert.equal(await parked('wamid.ELSEWHERE'), 1, 'another sender keeps its own room');
    await b.env.pool.query(`DELETE FROM whatsapp_pending_statuses WHERE message_id LIKE ANY($1::text[])`, [['wamid.FLOOD%', 'wamid.MORE%', 'wamid.ELSEWHERE']]);
  });
});
