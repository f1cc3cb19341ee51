import type pg from 'pg';
import type { SecretBox } from '../lib/secret-box.js';
import { getVoiceChannel, getWhatsAppChannel, whatsAppChannelsByNumber } from './channels.repo.js';
import { VOICE_AUTH_TOKEN, WHATSAPP_ACCESS_TOKEN, WHATSAPP_APP_SECRET } from './sealed-fields.js';

export interface TwilioAccount {
  accountSid: string;
  authToken: string;
}

export interface WhatsAppSender {
  businessId: number;
  phoneNumberId: string;
  accessToken: string;
  /** null: the deployment's WHATSAPP_APP_SECRET signs this number's webhooks. */
  appSecret: string | null;
}

/**
 * What the other domains need of the channels at run time, secrets opened: the dialer (which
 * account and numbers a business calls through), the Twilio webhooks (whose auth token verifies a
 * callback), broadcasts (which sender and token), the WhatsApp webhook (whose app secret), and the
 * in-process simulators (which accounts and numbers exist). Each answer is read from the database
 * when asked — a PUT in one process takes effect in every other at once — and opened here, never
 * logged. A value that does not open (wrong SECRETS_KEY) throws SecretOpenError naming the key id.
 */
export interface ChannelStore {
  /** The business's own Twilio subaccount, or null: its calls go through the deployment's account. */
  voiceAccount(businessId: number): Promise<TwilioAccount | null>;
  /** The auth token of `accountSid` when it is this business's subaccount now (null otherwise). */
  twilioAuthToken(businessId: number, accountSid: string): Promise<string | null>;
  /** Every auth token stored for this account sid (the simulator: which credentials it accepts). */
  twilioAccountTokens(accountSid: string): Promise<string[]>;
  /** The business's own WhatsApp sender, or null: it sends from the deployment's. */
  whatsAppSender(businessId: number): Promise<WhatsAppSender | null>;
  /** Its phone number id only (nothing opened): where its next broadcast sends from. */
  whatsAppNumber(businessId: number): Promise<string | null>;
  /** The channels of these sender numbers (webhook routing), by phone number id. */
  whatsAppSendersByNumber(phoneNumberIds: readonly string[]): Promise<Map<string, WhatsAppSender>>;
}

export function createChannelStore(pool: pg.Pool, box: () => SecretBox): ChannelStore {
  return {
    async voiceAccount(businessId) {
      const row = await getVoiceChannel(pool, businessId);
      if (row.account_sid === null || row.auth_token_sealed === null) return null;
      return { accountSid: row.account_sid, authToken: box().open(row.auth_token_sealed, VOICE_AUTH_TOKEN.context(businessId)) };
    },

    async twilioAuthToken(businessId, accountSid) {
      const { rows } = await pool.query<{ auth_token_sealed: string }>({
        name: 'bulkhead_voice_channel_token',
        text: `SELECT auth_token_sealed FROM voice_channels WHERE business_id = $1 AND account_sid = $2`,
        values: [businessId, accountSid],
      });
      const sealed = rows[0]?.auth_token_sealed;
      return sealed === undefined ? null : box().open(sealed, VOICE_AUTH_TOKEN.context(businessId));
    },

    async twilioAccountTokens(accountSid) {
      const { rows } = await pool.query<{ business_id: number; auth_token_sealed: string }>(
        `SELECT business_id, auth_token_sealed FROM voice_channels WHERE account_sid = $1`,
        [accountSid],
      );
      return rows.map((r) => box().open(r.auth_token_sealed, VOICE_AUTH_TOKEN.context(Number(r.business_id))));
    },

    async whatsAppSender(businessId) {
      const row = await getWhatsAppChannel(pool, businessId);
      return row ? senderOf(row, box()) : null;
    },

    async whatsAppNumber(businessId) {
      return (await getWhatsAppChannel(pool, businessId))?.phone_number_id ?? null;
    },

    async whatsAppSendersByNumber(phoneNumberIds) {
      if (phoneNumberIds.length === 0) return new Map();
      const rows = await whatsAppChannelsByNumber(pool, phoneNumberIds);
      const b = box();
      return new Map(rows.map((r) => [r.phone_number_id, senderOf(r, b)]));
    },
  };
}

function senderOf(
  row: { business_id: number; phone_number_id: string; access_token_sealed: string; app_secret_sealed: string | null },
  box: SecretBox,
): WhatsAppSender {
  const businessId = Number(row.business_id);
  return {
    businessId,
    phoneNumberId: row.phone_number_id,
    accessToken: box.open(row.access_token_sealed, WHATSAPP_ACCESS_TOKEN.context(businessId)),
    appSecret: row.app_secret_sealed === null ? null : box.open(row.app_secret_sealed, WHATSAPP_APP_SECRET.context(businessId)),
  };
}
