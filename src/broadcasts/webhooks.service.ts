import type pg from 'pg';
import { maskPhone, type Logger } from '../lib/logger.js';
import { DELIVERY_STATUSES, batchesOf, type DeliveryStatus, type WebhookEnvelope } from '../providers/whatsapp/webhook-payload.js';
import { fromWaId } from '../providers/whatsapp/types.js';
import { parseCallbackData } from './callback-data.js';
import { applyStatusUpdates, type StatusUpdate } from './delivery.repo.js';
import { addOptOut, businessesThatMessaged } from './opt-outs.repo.js';

/** An inbound message that opts the sender out: "STOP", any case, surrounding blanks ignored. */
export function isStopMessage(body: string | undefined): boolean {
  return body !== undefined && body.trim().toUpperCase() === 'STOP';
}

/** Pure: the status events of an envelope we act on (unknown statuses are ignored), each with the sender that reported it. */
export function statusUpdatesOf(envelope: WebhookEnvelope): StatusUpdate[] {
  const out: StatusUpdate[] = [];
  for (const batch of batchesOf(envelope)) {
    for (const s of batch.statuses) {
      if (!(DELIVERY_STATUSES as readonly string[]).includes(s.status)) continue;
      out.push({
        phoneNumberId: batch.phoneNumberId,
        messageId: s.id,
        status: s.status as DeliveryStatus,
        at: new Date(Number(s.timestamp) * 1000),
        errorCode: s.errors?.[0]?.code ?? null,
        recipient: parseCallbackData(s.biz_opaque_callback_data),
      });
    }
  }
  return out;
}

/**
 * `owners`: the business whose own sender each of the envelope's channel numbers is. Statuses
 * settle only messages their number sent (delivery.repo.ts), and a number is one business's
 * channel, so they reach that business's broadcasts; a STOP to a business's own number opts out
 * of that business only.
 */
export async function handleWebhook(
  deps: { pool: pg.Pool; log: Logger },
  envelope: WebhookEnvelope,
  owners: ReadonlyMap<string, number> = new Map(),
): Promise<{ statuses: number; applied: number; opted_out: number }> {
  const updates = statusUpdatesOf(envelope);
  const { applied, notParked } = await applyStatusUpdates(deps.pool, updates);
  if (notParked > 0) {
    deps.log.warn({ event: 'WHATSAPP_STATUSES_NOT_PARKED', count: notParked, senders: [...new Set(updates.map((u) => u.phoneNumberId))].slice(0, 5) },
      'statuses of unknown messages not parked: already parked, the sender\'s cap reached, or a number that never sent a broadcast');
  }
  let optedOut = 0;
  for (const batch of batchesOf(envelope)) {
    for (const m of batch.messages) {
      if (m.type !== 'text' || !isStopMessage(m.text?.body)) continue;
      const phone = fromWaId(m.from);
      // One sender number serves every business of the deployment: the STOP goes to each
      // business that messaged this number from it (docs/BROADCASTS.md, "Opt-outs").
      const owner = owners.get(batch.phoneNumberId);
      const businesses = (await businessesThatMessaged(deps.pool, batch.phoneNumberId, phone)).filter((b) => owner === undefined || b === owner);
      for (const businessId of businesses) await addOptOut(deps.pool, businessId, phone, 'inbound_stop');
      optedOut += businesses.length;
      deps.log.info({ event: 'WHATSAPP_STOP', from: maskPhone(phone), businesses: businesses.length }, 'inbound STOP: opted out');
    }
  }
  return { statuses: updates.length, applied, opted_out: optedOut };
}
