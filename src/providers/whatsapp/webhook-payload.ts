import { z } from 'zod';

/**
 * The Cloud API webhook envelope (object `whatsapp_business_account`), as far as Bulkhead reads
 * it: message statuses and inbound messages. Unknown fields are kept out of the way (loose
 * objects), since Meta adds fields over time.
 */
export const DELIVERY_STATUSES = ['sent', 'delivered', 'read', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Error codes are stored in an int4 column; a larger one was a 500. */
const WebhookError = z.looseObject({ code: z.number().int().min(-(2 ** 31)).max(2 ** 31 - 1), title: z.string().optional(), message: z.string().optional() });

/** 9999-12-31T23:59:59Z: later instants do not fit timestamptz (they were a 500). */
const LAST_UNIX_SECOND = 253_402_300_799;

export const StatusEvent = z.looseObject({
  id: z.string().min(1).max(200),
  status: z.string(),
  /** Unix seconds, as a string. */
  timestamp: z.string().regex(/^\d{1,12}$/).refine((s) => Number(s) <= LAST_UNIX_SECOND, { message: 'must be a time before the year 10000' }),
  recipient_id: z.string().max(32).optional(),
  errors: z.array(WebhookError).optional(),
  /**
   * What the send put in `biz_opaque_callback_data`, echoed by the Cloud API in every status of
   * the message (at most 512 characters). Another system's odd value is dropped, not a 400.
   */
  biz_opaque_callback_data: z.string().max(512).optional().catch(undefined),
});
export type StatusEvent = z.infer<typeof StatusEvent>;

const InboundMessage = z.looseObject({
  from: z.string().min(1).max(32),
  id: z.string().max(200),
  timestamp: z.string().optional(),
  type: z.string(),
  text: z.looseObject({ body: z.string() }).optional(),
});
export type InboundMessage = z.infer<typeof InboundMessage>;

const ChangeValue = z.looseObject({
  messaging_product: z.string().optional(),
  metadata: z.looseObject({ display_phone_number: z.string().optional(), phone_number_id: z.string() }),
  statuses: z.array(StatusEvent).optional(),
  messages: z.array(InboundMessage).optional(),
});

export const WebhookEnvelope = z.looseObject({
  object: z.literal('whatsapp_business_account'),
  entry: z.array(z.looseObject({
    id: z.string(),
    changes: z.array(z.looseObject({ field: z.string(), value: ChangeValue })),
  })),
});
export type WebhookEnvelope = z.infer<typeof WebhookEnvelope>;

export interface WebhookBatch {
  phoneNumberId: string;
  statuses: StatusEvent[];
  messages: InboundMessage[];
}

/** Flattens an envelope into what each sender number received. */
export function batchesOf(envelope: WebhookEnvelope): WebhookBatch[] {
  const out: WebhookBatch[] = [];
  for (const entry of envelope.entry) {
    for (const change of entry.changes) {
      if (change.field !== 'messages') continue;
      out.push({
        phoneNumberId: change.value.metadata.phone_number_id,
        statuses: change.value.statuses ?? [],
        messages: change.value.messages ?? [],
      });
    }
  }
  return out;
}

/** Builds an envelope (the simulator posts these; tests forge them). */
export function buildEnvelope(
  phoneNumberId: string,
  content: { statuses?: StatusEvent[]; messages?: InboundMessage[] },
  wabaId = '200000000000001',
): WebhookEnvelope {
  return {
    object: 'whatsapp_business_account',
    entry: [{
      id: wabaId,
      changes: [{
        field: 'messages',
        value: {
          messaging_product: 'whatsapp',
          metadata: { display_phone_number: '15550000000', phone_number_id: phoneNumberId },
          ...(content.statuses ? { statuses: content.statuses } : {}),
          ...(content.messages
            ? { contacts: content.messages.map((m) => ({ wa_id: m.from, profile: { name: 'Simulated' } })), messages: content.messages }
            : {}),
        },
      }],
    }],
  };
}
