import { z } from 'zod';
import { Timestamp } from './common.js';

/**
 * A business's channels (API.md "Channels, locale, call flows"). Secrets are never shown again
 * once stored: a GET shows `…` and their last four characters.
 */
const SecretHint = z.string().describe('"…" and the last four characters of the stored secret; sent back unchanged in a PUT, it keeps the stored one');

export const VoiceChannel = z.object({
  caller_ids: z.array(z.string()).describe('E.164; calls go out from these (round robin, one of the lead\'s country first). Empty: from the deployment\'s TWILIO_FROM'),
  twilio: z.object({
    account_sid: z.string(),
    auth_token: SecretHint,
  }).nullable().describe('the business\'s own Twilio (sub)account; null: the deployment\'s account'),
  updated_at: Timestamp.nullable().describe('null: never set (the deployment\'s defaults)'),
}).describe('The business\'s voice channel');
export type VoiceChannel = z.infer<typeof VoiceChannel>;

export const WhatsAppChannel = z.object({
  phone_number_id: z.string().describe('the sender of the business\'s broadcasts'),
  own: z.boolean().describe('false: the deployment\'s sender (WHATSAPP_PHONE_NUMBER_ID), shared by every business without its own'),
  access_token: SecretHint.nullable(),
  app_secret: SecretHint.nullable().describe('null: delivery webhooks are verified with the deployment\'s WHATSAPP_APP_SECRET'),
  updated_at: Timestamp.nullable(),
}).describe('The business\'s WhatsApp sender');
export type WhatsAppChannel = z.infer<typeof WhatsAppChannel>;
