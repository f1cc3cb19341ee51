import { z } from 'zod';
import { countsBy, Int, JobBacked, Timestamp } from './common.js';

export const RECIPIENT_STATUSES = ['queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'skipped'] as const;
export const RecipientStatus = z.enum(RECIPIENT_STATUSES);
export type RecipientStatus = z.infer<typeof RecipientStatus>;

export const RecipientCounts = countsBy(RECIPIENT_STATUSES);
export type RecipientCounts = z.infer<typeof RecipientCounts>;

export const BroadcastMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string() }),
  z.object({ type: z.literal('template'), name: z.string(), language: z.string(), variables: z.array(z.string()).optional() }),
]);
export type BroadcastMessage = z.infer<typeof BroadcastMessage>;

/** A WhatsApp broadcast; its counts add up to `total` (the recipients after de-duplication). */
export const Broadcast = JobBacked.extend({
  counts: RecipientCounts,
  total: Int,
  duplicates: Int,
  message: BroadcastMessage,
  phone_number_id: z.string(),
  error: z.string().nullable(),
  created_at: Timestamp,
}).describe('A broadcast with its recipient counts by status');
export type Broadcast = z.infer<typeof Broadcast>;

export const Recipient = z.object({
  id: Int,
  phone: z.string(),
  lead_id: Int.nullable(),
  status: RecipientStatus,
  reason: z.string().nullable(),
  error_code: Int.nullable(),
  attempts: Int,
  next_attempt_at: Timestamp.nullable(),
  message_id: z.string().nullable(),
  sent_at: Timestamp.nullable(),
  delivered_at: Timestamp.nullable(),
  read_at: Timestamp.nullable(),
  updated_at: Timestamp,
}).describe('A recipient of a broadcast');
export type Recipient = z.infer<typeof Recipient>;

export const OptOut = z.object({ id: Int, phone: z.string(), source: z.enum(['api', 'inbound_stop']), created_at: Timestamp }).describe('An opted-out number');
export type OptOut = z.infer<typeof OptOut>;

/** What `POST /webhooks/whatsapp` answers Meta (which only looks at the 200). */
export const WhatsAppWebhookAck = z.object({
  ok: z.literal(true),
  ignored: z.literal(true).optional().describe('signed, but not a WhatsApp messages envelope'),
  statuses: Int.optional(),
  applied: Int.optional(),
  opted_out: Int.optional(),
}).describe('Acknowledged');
export type WhatsAppWebhookAck = z.infer<typeof WhatsAppWebhookAck>;
