import type pg from 'pg';
import type { Queryable } from '../db/pool.js';

/**
 * The channel tables (011_channels.sql). Secrets go in and come out sealed: only
 * channel-store.ts and channels.service.ts open or seal them.
 */

export interface VoiceChannelRow {
  account_sid: string | null;
  auth_token_sealed: string | null;
  auth_token_hint: string | null;
  updated_at: Date | null;
  caller_ids: string[];
}

export interface CallerIdRow {
  caller_id: string;
  country: string | null;
}

export interface WhatsAppChannelRow {
  business_id: number;
  phone_number_id: string;
  access_token_sealed: string;
  access_token_hint: string;
  app_secret_sealed: string | null;
  app_secret_hint: string | null;
  updated_at: Date;
}

/** The business's voice channel; caller_ids empty and the rest null when it never set one. */
export async function getVoiceChannel(db: Queryable, businessId: number): Promise<VoiceChannelRow> {
  const { rows } = await db.query<VoiceChannelRow>({
    name: 'bulkhead_voice_channel',
    text: `SELECT v.account_sid, v.auth_token_sealed, v.auth_token_hint, v.updated_at,
                  ARRAY(SELECT caller_id FROM voice_caller_ids WHERE business_id = $1 ORDER BY position) AS caller_ids
             FROM (SELECT $1::bigint AS business_id) b
             LEFT JOIN voice_channels v ON v.business_id = b.business_id`,
    values: [businessId],
  });
  return rows[0] ?? { account_sid: null, auth_token_sealed: null, auth_token_hint: null, updated_at: null, caller_ids: [] };
}

/**
 * Serializes the channel changes of one business (two PUTs at once would each delete and insert
 * the caller ids). Transaction-scoped, like the dialer's slot lock, and on its own key so a
 * channel change never waits for a claim.
 */
export async function lockChannels(tx: pg.PoolClient, businessId: number): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('channels:' || $1::text, 0))`, [businessId]);
}

/** Caller ids among `numbers` that belong to another business. */
export async function callerIdsOfOthers(db: Queryable, businessId: number, numbers: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ caller_id: string }>(
    `SELECT caller_id FROM voice_caller_ids WHERE caller_id = ANY($2::text[]) AND business_id <> $1 ORDER BY caller_id`,
    [businessId, numbers],
  );
  return rows.map((r) => r.caller_id);
}

/**
 * Replaces the business's caller ids and its subaccount. The round robin starts again from zero
 * for every number (a number added to a list that has placed thousands of calls would otherwise
 * take every call until it caught up).
 */
export async function replaceVoiceChannel(
  tx: pg.PoolClient,
  businessId: number,
  v: { callerIds: readonly CallerIdRow[]; accountSid: string | null; authTokenSealed: string | null; authTokenHint: string | null },
): Promise<void> {
  await tx.query(`DELETE FROM voice_caller_ids WHERE business_id = $1`, [businessId]);
  if (v.callerIds.length > 0) {
    await tx.query(
      `INSERT INTO voice_caller_ids (caller_id, business_id, position, country)
       SELECT c.caller_id, $1, c.ord, c.country FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS c(caller_id, country, ord)`,
      [businessId, v.callerIds.map((c) => c.caller_id), v.callerIds.map((c) => c.country)],
    );
  }
  await tx.query(
    `INSERT INTO voice_channels (business_id, account_sid, auth_token_sealed, auth_token_hint, updated_at)
     VALUES ($1, $2, $3, $4, now())
     ON CONFLICT (business_id) DO UPDATE
        SET account_sid = EXCLUDED.account_sid, auth_token_sealed = EXCLUDED.auth_token_sealed,
            auth_token_hint = EXCLUDED.auth_token_hint, updated_at = now()`,
    [businessId, v.accountSid, v.authTokenSealed, v.authTokenHint],
  );
}

export async function getWhatsAppChannel(db: Queryable, businessId: number): Promise<WhatsAppChannelRow | null> {
  const { rows } = await db.query<WhatsAppChannelRow>({
    name: 'bulkhead_whatsapp_channel',
    text: `SELECT business_id, phone_number_id, access_token_sealed, access_token_hint, app_secret_sealed, app_secret_hint, updated_at
             FROM whatsapp_channels WHERE business_id = $1`,
    values: [businessId],
  });
  return rows[0] ?? null;
}

/** The channels of these sender numbers (webhook routing: across tenants by design, one row per number). */
export async function whatsAppChannelsByNumber(db: Queryable, phoneNumberIds: readonly string[]): Promise<WhatsAppChannelRow[]> {
  const { rows } = await db.query<WhatsAppChannelRow>({
    name: 'bulkhead_whatsapp_channels_by_number',
    text: `SELECT business_id, phone_number_id, access_token_sealed, access_token_hint, app_secret_sealed, app_secret_hint, updated_at
             FROM whatsapp_channels WHERE phone_number_id = ANY($1::text[])`,
    values: [phoneNumberIds],
  });
  return rows;
}

/** The business whose sender `phoneNumberId` is, other than `businessId` (null: none). */
export async function whatsAppNumberOwner(db: Queryable, phoneNumberId: string, businessId: number): Promise<number | null> {
  const { rows } = await db.query<{ business_id: number }>(
    `SELECT business_id FROM whatsapp_channels WHERE phone_number_id = $1 AND business_id <> $2`,
    [phoneNumberId, businessId],
  );
  return rows[0]?.business_id ?? null;
}

export async function upsertWhatsAppChannel(
  tx: pg.PoolClient,
  businessId: number,
  w: { phoneNumberId: string; accessTokenSealed: string; accessTokenHint: string; appSecretSealed: string | null; appSecretHint: string | null },
): Promise<void> {
  await tx.query(
    `INSERT INTO whatsapp_channels (business_id, phone_number_id, access_token_sealed, access_token_hint, app_secret_sealed, app_secret_hint, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (business_id) DO UPDATE
        SET phone_number_id = EXCLUDED.phone_number_id, access_token_sealed = EXCLUDED.access_token_sealed,
            access_token_hint = EXCLUDED.access_token_hint, app_secret_sealed = EXCLUDED.app_secret_sealed,
            app_secret_hint = EXCLUDED.app_secret_hint, updated_at = now()`,
    [businessId, w.phoneNumberId, w.accessTokenSealed, w.accessTokenHint, w.appSecretSealed, w.appSecretHint],
  );
}
