import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applyDeliveryEvent, type DeliveryState } from '../../src/broadcasts/status-order.js';
import { MAX_SEND_ATTEMPTS, decideOutcome } from '../../src/broadcasts/send-outcome.js';
import { buildRecipientList } from '../../src/broadcasts/recipients.js';
import { CATCH_UP_MS, scheduleSlots, slotLimit, type PacingState } from '../../src/broadcasts/pacing.js';
import { isStopMessage, statusUpdatesOf } from '../../src/broadcasts/webhooks.service.js';
import { classifySendFailure } from '../../src/providers/whatsapp/classify.js';
import { buildMessageBody, messagesUrl, parseSendResponse } from '../../src/providers/whatsapp/cloud-api.js';
import { SlidingWindow } from '../../src/providers/whatsapp/rate-window.js';
import { signBody, verifySignature } from '../../src/providers/whatsapp/signature.js';
import { WebhookEnvelope, buildEnvelope } from '../../src/providers/whatsapp/webhook-payload.js';
import { callbackDataFor, parseCallbackData } from '../../src/broadcasts/callback-data.js';
import type { SendResult } from '../../src/providers/whatsapp/types.js';

const apiError = (code: number, httpStatus = 400): Exclude<SendResult, { ok: true }> => ({ ok: false, httpStatus, error: { code, message: `(#${code})` } });

describe('classifySendFailure', () => {
  test('each Cloud API error class', () => {
    const kinds = (r: Exclude<SendResult, { ok: true }>) => {
      const v = classifySendFailure(r);
      return [v.kind, v.reason];
    };
    assert.deepEqual(kinds(apiError(130429)), ['retry', 'rate_limited']);
    assert.deepEqual(kinds(apiError(131056)), ['retry', 'pair_rate_limited']);
    assert.deepEqual(kinds(apiError(131047)), ['fail', 'needs_template']);
    assert.deepEqual(kinds(apiError(131026)), ['fail', 'not_on_whatsapp']);
    assert.deepEqual(kinds(apiError(131048)), ['stop', 'spam_restricted']);
    assert.deepEqual(kinds(apiError(190, 401)), ['stop', 'sender_unauthorized']);
    assert.deepEqual(kinds(apiError(0, 503)), ['retry', 'provider_unavailable']);
    assert.deepEqual(kinds(apiError(131000, 500)), ['retry', 'provider_unavailable']);
    assert.deepEqual(kinds(apiError(132001)), ['fail', 'rejected']);
    assert.deepEqual(kinds({ ok: false, httpStatus: null, network: 'not_sent', detail: 'ECONNREFUSED' }), ['retry', 'provider_unavailable']);
    assert.deepEqual(kinds({ ok: false, httpStatus: null, network: 'unknown', detail: 'UND_ERR_SOCKET' }), ['unknown', 'unknown_outcome']);
  });

  test('the stop message says what happened and what to do', () => {
    const v = classifySendFailure(apiError(131048));
    assert.equal(v.kind, 'stop');
    assert.match(v.kind === 'stop' ? v.message : '', /restricted this sender for spam \(error 131048.*broadcast was stopped/);
  });
});

describe('decideOutcome', () => {
  const fixed = () => 0.5;
  test('sent, retried with backoff, failed, unknown, stop', () => {
    assert.deepEqual(decideOutcome(1, 1, { ok: true, messageId: 'wamid.X' }, fixed).outcome.status, 'sent');
    const throttled = decideOutcome(1, 1, apiError(130429), fixed);
    assert.deepEqual([throttled.outcome.status, throttled.outcome.reason, throttled.throughput], ['queued', 'rate_limited', true]);
    assert.equal(throttled.outcome.retryAfterMs, 750);
    const later = decideOutcome(1, 4, apiError(130429), fixed);
    assert.equal(later.outcome.retryAfterMs, 6_000, 'exponential');
    const pair = decideOutcome(1, 1, apiError(131056), fixed);
    assert.ok((pair.outcome.retryAfterMs ?? 0) >= 4_500, 'pair rate waits seconds');
    assert.equal(decideOutcome(1, MAX_SEND_ATTEMPTS, apiError(130429), fixed).outcome.reason, 'retries_exhausted');
    assert.deepEqual(decideOutcome(1, 1, apiError(131047)).outcome.status, 'failed');
    const unknown = decideOutcome(1, 1, { ok: false, httpStatus: null, network: 'unknown', detail: 'timeout' });
    assert.deepEqual([unknown.outcome.status, unknown.outcome.reason], ['failed', 'unknown_outcome']);
    const stop = decideOutcome(1, 1, apiError(131048));
    assert.equal(stop.outcome.status, 'queued', 'not sent: waits with the others');
    assert.ok(stop.stop);
  });
});

describe('applyDeliveryEvent', () => {
  const at = (s: number) => new Date(s * 1000);
  const state = (status: DeliveryState['status'], reason: string | null = null, statusAt: Date | null = at(100)): DeliveryState => ({ status, reason, statusAt });
  const ev = (status: 'sent' | 'delivered' | 'read' | 'failed', t = 101, errorCode: number | null = null) => ({ status, at: at(t), errorCode });

  test('forward only along sent < delivered < read; duplicates change nothing', () => {
    assert.equal(applyDeliveryEvent(state('sent'), ev('delivered'))?.status, 'delivered');
    assert.equal(applyDeliveryEvent(state('sent'), ev('read'))?.status, 'read', 'may skip a step');
    assert.equal(applyDeliveryEvent(state('read'), ev('delivered')), null, 'a late delivered never undoes read');
    assert.equal(applyDeliveryEvent(state('read'), ev('sent')), null);
    assert.equal(applyDeliveryEvent(state('delivered'), ev('delivered')), null, 'duplicate');
  });

  test('the status time only grows', () => {
    assert.deepEqual(applyDeliveryEvent(state('sent', null, at(200)), ev('delivered', 150))?.statusAt, at(200));
    assert.deepEqual(applyDeliveryEvent(state('sent', null, at(100)), ev('delivered', 150))?.statusAt, at(150));
  });

  test('failed: applies before delivery, ignored after it, terminal; unknown outcomes can still be settled', () => {
    assert.deepEqual(applyDeliveryEvent(state('sent'), ev('failed', 101, 131026)), { status: 'failed', reason: 'not_on_whatsapp', statusAt: at(101) });
    assert.equal(applyDeliveryEvent(state('delivered'), ev('failed')), null);
    assert.equal(applyDeliveryEvent(state('read'), ev('failed')), null);
    assert.equal(applyDeliveryEvent(state('failed', 'not_on_whatsapp'), ev('read')), null);
    assert.equal(applyDeliveryEvent(state('failed', 'unknown_outcome'), ev('delivered'))?.status, 'delivered');
    assert.equal(applyDeliveryEvent(state('skipped', 'opted_out'), ev('read')), null);
  });

  test('any arrival order of one message\'s events ends in the same status', () => {
    const events = [ev('sent', 100), ev('delivered', 101), ev('read', 102)];
    const orders = [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1], [0, 2, 1, 1, 0]];
    for (const order of orders) {
      let s: DeliveryState = state('sent', null, null);
      for (const i of order) s = applyDeliveryEvent(s, events[i] ?? ev('sent')) ?? s;
      assert.equal(s.status, 'read', JSON.stringify(order));
      assert.deepEqual(s.statusAt, at(102));
    }
  });
});

describe('buildRecipientList', () => {
  test('normalizes in the default country, keeps the first of each number, collects invalid ones by path', () => {
    const list = buildRecipientList([
      { phone: '(212) 555-0100', leadId: null, path: 'a' },
      { phone: '+1 212 555 0100', leadId: 7, path: 'b' },
      { phone: 'nope', leadId: null, path: 'c' },
      { phone: '+44 20 7946 0958', leadId: null, path: 'd' },
    ], 'US');
    assert.deepEqual(list.recipients, [{ phone: '+12125550100', leadId: 7 }, { phone: '+442079460958', leadId: null }]);
    assert.equal(list.duplicates, 1);
    assert.deepEqual(list.invalid.map((i) => i.path), ['c']);
  });
});

describe('pacing (scheduleSlots)', () => {
  /** Waves of `wave` slots reserved back to back, with `gapMs` idle every `every` waves (batch boundaries). */
  function simulate(limit: number, waves: number, wave: number, gap: { every: number; ms: number }) {
    let state: PacingState = { history: [], tat: null };
    let now = 0;
    const all: number[] = [];
    for (let w = 0; w < waves; w += 1) {
      const plan = scheduleSlots(state, now, wave, limit, 1000);
      state = plan;
      all.push(...plan.slots);
      now = Math.max(now, (plan.slots[0] ?? now) - 10);
      if (gap.every > 0 && w % gap.every === gap.every - 1) now = (plan.slots.at(-1) ?? now) + gap.ms;
    }
    return all;
  }

  test('no sliding second ever holds more than the limit, whatever the gaps between batches', () => {
    for (const gap of [{ every: 0, ms: 0 }, { every: 10, ms: 250 }, { every: 3, ms: 900 }, { every: 7, ms: 2_500 }]) {
      const slots = simulate(78, 300, 8, gap);
      const win = new SlidingWindow(78, 1000);
      assert.equal(slots.filter((t) => !win.tryAcquire(t)).length, 0, JSON.stringify(gap));
    }
  });

  test('throughput: the full limit per window, a commit-sized gap every batch included (nothing lost at batch boundaries)', () => {
    const slots = simulate(78, 1000, 8, { every: 10, ms: 25 });
    const span = (slots.at(-1) ?? 0) - (slots[0] ?? 0);
    const rate = ((slots.length - 1) / span) * 1000;
    assert.ok(rate > 78 * 0.97 && rate <= 78.01, `rate ${rate}`);
  });

  test('steady from the start; a sender that fell behind catches up at twice the rate, up to CATCH_UP_MS', () => {
    const plan = scheduleSlots({ history: [], tat: null }, 0, 5, 10, 1000);
    assert.deepEqual(plan.slots, [0, 100, 200, 300, 400], 'no burst from an empty window');
    const behind = scheduleSlots(plan, 700, 5, 10, 1000);
    assert.deepEqual(behind.slots, [700, 750, 800, 850, 900], '200 ms behind: made up at twice the rate, then in step');
    const idle = scheduleSlots(behind, 5_000, 8, 10, 1000);
    assert.deepEqual(idle.slots, [5000, 5050, 5100, 5150, 5200, 5250, 5350, 5450], 'a long idle gives back only CATCH_UP_MS');
    assert.equal(CATCH_UP_MS, 250);
  });

  test('the window rule: a full window waits until its first slot ages out', () => {
    const full = { history: [0, 50, 100, 150, 200, 250, 300, 350, 400, 450], tat: 0 };
    assert.deepEqual(scheduleSlots(full, 460, 3, 10, 1000).slots, [1000, 1050, 1100]);
    assert.equal(slotLimit(80), 79);
  });
});

describe('SlidingWindow', () => {
  test('at most `limit` in any window', () => {
    const w = new SlidingWindow(3, 1000);
    assert.deepEqual([0, 10, 20, 30].map((t) => w.tryAcquire(t)), [true, true, true, false]);
    assert.equal(w.tryAcquire(999), false);
    assert.equal(w.tryAcquire(1000), true);
  });
});

describe('Cloud API wire format', () => {
  test('request bodies of text and template messages', () => {
    assert.deepEqual(buildMessageBody({ to: '+12125550100', content: { type: 'text', text: 'Hi' } }), {
      messaging_product: 'whatsapp', recipient_type: 'individual', to: '12125550100', type: 'text', text: { preview_url: false, body: 'Hi' },
    });
    assert.deepEqual(buildMessageBody({ to: '+12125550100', content: { type: 'template', name: 'sale', language: 'en_US', variables: ['20%'] } }), {
      messaging_product: 'whatsapp', recipient_type: 'individual', to: '12125550100', type: 'template',
      template: { name: 'sale', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: '20%' }] }] },
    });
    assert.equal(messagesUrl('https://graph.facebook.com/', 'v21.0', '123'), 'https://graph.facebook.com/v21.0/123/messages');
  });

  test('responses: message id, error object, garbage', () => {
    assert.deepEqual(parseSendResponse(200, JSON.stringify({ messaging_product: 'whatsapp', messages: [{ id: 'wamid.A' }] })), { ok: true, messageId: 'wamid.A' });
    const err = parseSendResponse(400, JSON.stringify({ error: { message: '(#130429) Rate limit hit', type: 'OAuthException', code: 130429, error_subcode: 2494055, fbtrace_id: 'T' } }));
    assert.equal(err.ok, false);
    assert.equal(!err.ok && err.httpStatus !== null ? err.error.code : null, 130429);
    const junk = parseSendResponse(502, '<html>');
    assert.deepEqual(!junk.ok && junk.httpStatus !== null ? [junk.httpStatus, junk.error.code] : null, [502, 0]);
    const noId = parseSendResponse(200, '{}');
    assert.deepEqual(!noId.ok && noId.httpStatus === null ? noId.network : null, 'unknown', 'a 2xx without id may have been accepted');
  });

  test('webhook signatures are HMAC-SHA256 of the raw body, compared safely', () => {
    const body = Buffer.from('{"object":"whatsapp_business_account","entry":[]}');
    const sig = signBody(body, 'secret-123');
    assert.match(sig, /^sha256=[0-9a-f]{64}$/);
    assert.equal(verifySignature(body, sig, 'secret-123'), true);
    assert.equal(verifySignature(body, sig, 'secret-124'), false);
    assert.equal(verifySignature(Buffer.concat([body, Buffer.from(' ')]), sig, 'secret-123'), false);
    assert.equal(verifySignature(body, undefined, 'secret-123'), false);
    assert.equal(verifySignature(body, sig.slice(0, -2), 'secret-123'), false);
    assert.equal(verifySignature(body, [sig], 'secret-123'), false);
  });

  test('status events of an envelope, each with the sender that reported it; STOP detection', () => {
    const env = buildEnvelope('1', { statuses: [
      { id: 'wamid.A', status: 'delivered', timestamp: '1700000000', recipient_id: '1' },
      { id: 'wamid.B', status: 'deleted', timestamp: '1700000000' },
      { id: 'wamid.C', status: 'failed', timestamp: '1700000001', errors: [{ code: 131047 }] },
    ] });
    assert.deepEqual(statusUpdatesOf(env), [
      { phoneNumberId: '1', messageId: 'wamid.A', status: 'delivered', at: new Date(1_700_000_000_000), errorCode: null, recipient: null },
      { phoneNumberId: '1', messageId: 'wamid.C', status: 'failed', at: new Date(1_700_000_001_000), errorCode: 131047, recipient: null },
    ]);
    assert.deepEqual(['STOP', ' stop\n', 'Stop', 'stop please', 'STOPP', '', undefined].map(isStopMessage), [true, true, true, false, false, false, false]);
  });

  test('biz_opaque_callback_data: sent with the message, read from each status, absent or foreign values name nobody', () => {
    const data = callbackDataFor({ businessId: 7, broadcastId: 42, recipientId: 123456 });
    assert.equal(data, 'bh:7:42:123456');
    assert.deepEqual(buildMessageBody({ to: '+12125550100', content: { type: 'text', text: 'Hi' }, callbackData: data }), {
      messaging_product: 'whatsapp', recipient_type: 'individual', to: '12125550100', type: 'text', text: { preview_url: false, body: 'Hi' },
      biz_opaque_callback_data: 'bh:7:42:123456',
    });
    assert.equal('biz_opaque_callback_data' in buildMessageBody({ to: '+1212', content: { type: 'text', text: 'Hi' }, callbackData: 'x'.repeat(513) }), false, 'over 512: left out, not a refused message');
    assert.deepEqual(['bh:1:2:3', 'bh:0:2:3', 'bh:1:2', 'bh:1:2:3:4', 'bh:a:2:3', 'xx:1:2:3', ' bh:1:2:3', 'bh:1:2:99999999999999999', '', null, undefined].map(parseCallbackData), [
      { businessId: 1, broadcastId: 2, recipientId: 3 }, null, null, null, null, null, null, null, null, null, null,
    ]);

    // A Cloud API status webhook as posted (the field sits in each statuses[] entry), parsed as the route does.
    const raw = (extra: Record<string, unknown>) => JSON.parse(JSON.stringify(buildEnvelope('1', { statuses: [
      { id: 'wamid.A', status: 'sent', timestamp: '1700000000', recipient_id: '12125550100', ...extra },
    ] }))) as unknown;
    const parsed = (extra: Record<string, unknown>) => {
      const r = WebhookEnvelope.safeParse(raw(extra));
      assert.ok(r.success, JSON.stringify(r.error));
      return statusUpdatesOf(r.data).map((u) => u.recipient);
    };
    assert.deepEqual(parsed({ biz_opaque_callback_data: data }), [{ businessId: 7, broadcastId: 42, recipientId: 123456 }]);
    assert.deepEqual(parsed({}), [null], 'without the field');
    assert.deepEqual(parsed({ biz_opaque_callback_data: 'campaign-2024' }), [null], "another system's data");
    assert.deepEqual(parsed({ biz_opaque_callback_data: 12 }), [null], 'not a string: ignored, not a 400');
    assert.deepEqual(parsed({ biz_opaque_callback_data: 'y'.repeat(600) }), [null], 'over 512: ignored');
  });
});
