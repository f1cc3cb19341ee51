/**
 * The Cloud API's `biz_opaque_callback_data` of a broadcast message: `bh:<business_id>:<broadcast_id>:<recipient_id>`.
 * The provider echoes it in every status webhook of the message (`statuses[].biz_opaque_callback_data`),
 * so a status can find its recipient even when the worker died before recording the message id
 * (docs/BROADCASTS.md, "At-most-once sending"). It reaches only our signed webhook; it names rows,
 * it grants nothing: the webhook still checks that the recipient belongs to that business and
 * broadcast. Pure.
 */
export interface RecipientRef {
  businessId: number;
  broadcastId: number;
  recipientId: number;
}

const PATTERN = /^bh:([1-9]\d{0,15}):([1-9]\d{0,15}):([1-9]\d{0,15})$/;

export function callbackDataFor(ref: RecipientRef): string {
  return `bh:${ref.businessId}:${ref.broadcastId}:${ref.recipientId}`;
}

/** The recipient a callback data names, or null (absent, another system's, malformed). */
export function parseCallbackData(data: string | null | undefined): RecipientRef | null {
  if (!data) return null;
  const m = PATTERN.exec(data);
  if (!m) return null;
  const [businessId, broadcastId, recipientId] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (![businessId, broadcastId, recipientId].every(Number.isSafeInteger)) return null;
  return { businessId, broadcastId, recipientId };
}
