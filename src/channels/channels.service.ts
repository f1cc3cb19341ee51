import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type pg from 'pg';
import type { VoiceChannel, WhatsAppChannel } from '../contract/channels.js';
import { withTx } from '../db/pool.js';
import { normalizePhone } from '../leads/phone.js';
import { ConflictError, ValidationError, type Issue } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import { secretHint, type SecretBox } from '../lib/secret-box.js';
import { actorOf } from '../people/actor.js';
import { recordAudit } from '../people/audit.repo.js';
import type { AuthContext } from '../people/identity.repo.js';
import {
  callerIdsOfOthers, getVoiceChannel, getWhatsAppChannel, lockChannels, replaceVoiceChannel, upsertWhatsAppChannel, whatsAppNumberOwner,
  type CallerIdRow, type VoiceChannelRow, type WhatsAppChannelRow,
} from './channels.repo.js';
import { VOICE_AUTH_TOKEN, WHATSAPP_ACCESS_TOKEN, WHATSAPP_APP_SECRET } from './sealed-fields.js';

export interface ChannelsServiceDeps {
  pool: pg.Pool;
  /** Ready once the module started (the key may be read from DATA_DIR). */
  box: () => SecretBox;
  /** The deployment's WhatsApp sender (WHATSAPP_PHONE_NUMBER_ID): shared, so no business may claim it. */
  defaultPhoneNumberId: string;
}

export interface VoiceChannelBody {
  caller_ids: string[];
  twilio?: { account_sid: string; auth_token: string } | null | undefined;
}

export interface WhatsAppChannelBody {
  phone_number_id: string;
  access_token: string;
  app_secret?: string | null | undefined;
}

/** A secret sent back as the GET showed it ("…" + last 4): keep the stored one. */
export function isKeptHint(value: string): boolean {
  return value.startsWith('…');
}

export function voiceView(row: VoiceChannelRow): VoiceChannel {
  return {
    caller_ids: row.caller_ids,
    twilio: row.account_sid !== null && row.auth_token_hint !== null ? { account_sid: row.account_sid, auth_token: row.auth_token_hint } : null,
    updated_at: row.updated_at?.toISOString() ?? null,
  };
}

export function whatsAppView(row: WhatsAppChannelRow | null, defaultPhoneNumberId: string): WhatsAppChannel {
  if (!row) return { phone_number_id: defaultPhoneNumberId, own: false, access_token: null, app_secret: null, updated_at: null };
  return {
    phone_number_id: row.phone_number_id,
    own: true,
    access_token: row.access_token_hint,
    app_secret: row.app_secret_hint,
    updated_at: row.updated_at.toISOString(),
  };
}

/** Caller ids as typed → E.164 with their country, first spelling of each number kept; the unreadable ones as issues. */
export function readCallerIds(raw: readonly string[], defaultCountry: string): { callerIds: CallerIdRow[]; issues: Issue[] } {
  const callerIds: CallerIdRow[] = [];
  const issues: Issue[] = [];
  const seen = new Set<string>();
  raw.forEach((text, i) => {
    const e164 = normalizePhone(text, defaultCountry);
    if (e164 === null) {
      issues.push({ path: `body.caller_ids.${i}`, message: msg('issue.phone_invalid_here') });
      return;
    }
    if (seen.has(e164)) return;
    seen.add(e164);
    callerIds.push({ caller_id: e164, country: parsePhoneNumberFromString(e164)?.country ?? null });
  });
  return { callerIds, issues };
}

/**
 * Replaces the business's voice channel: its caller ids and, optionally, its own Twilio
 * subaccount (the auth token sealed before it is stored). Validation first (nothing changes on a
 * 400 or 409); the change and its audit entry commit together.
 */
export async function putVoiceChannel(deps: ChannelsServiceDeps, who: AuthContext, body: VoiceChannelBody): Promise<VoiceChannel> {
  const { callerIds, issues } = readCallerIds(body.caller_ids, who.defaultCountry);
  if (issues.length > 0) {
    throw new ValidationError(msg('channels.caller_ids_invalid', { count: issues.length, first: issues[0] as Issue }), issues);
  }
  const twilio = body.twilio ?? null;
  const box = deps.box();
  return withTx(deps.pool, async (tx) => {
    await lockChannels(tx, who.businessId);
    const current = await getVoiceChannel(tx, who.businessId);
    const taken = await callerIdsOfOthers(tx, who.businessId, callerIds.map((c) => c.caller_id));
    if (taken.length > 0) {
      throw new ConflictError('caller_id_taken', msg('channels.caller_id_taken', { ids: taken }), { caller_ids: taken });
    }
    let account: { accountSid: string; authTokenSealed: string; authTokenHint: string } | null = null;
    let tokenChanged = false;
    if (twilio) {
      if (isKeptHint(twilio.auth_token)) {
        if (current.account_sid !== twilio.account_sid || current.auth_token_sealed === null || current.auth_token_hint !== twilio.auth_token) {
          throw new ValidationError(msg('channels.auth_token_of_other_account'), [
            { path: 'body.twilio.auth_token', message: msg('issue.auth_token_of_other_account') },
          ]);
        }
        account = { accountSid: current.account_sid, authTokenSealed: current.auth_token_sealed, authTokenHint: current.auth_token_hint };
      } else {
        account = {
          accountSid: twilio.account_sid,
          authTokenSealed: box.seal(twilio.auth_token, VOICE_AUTH_TOKEN.context(who.businessId)),
          authTokenHint: secretHint(twilio.auth_token),
        };
        tokenChanged = true;
      }
    }
    await replaceVoiceChannel(tx, who.businessId, {
      callerIds,
      accountSid: account?.accountSid ?? null,
      authTokenSealed: account?.authTokenSealed ?? null,
      authTokenHint: account?.authTokenHint ?? null,
    }).catch((err: unknown) => {
      // Two businesses claiming one number at the same moment: the primary key decides.
      if ((err as { code?: string }).code === '23505') throw new ConflictError('caller_id_taken', msg('channels.caller_id_claimed'));
      throw err;
    });
    await recordAudit(tx, {
      businessId: who.businessId,
      actor: actorOf(who),
      action: 'channel.update',
      targetType: 'channel',
      targetId: 'voice',
      details: { caller_ids: callerIds.map((c) => c.caller_id), account_sid: account?.accountSid ?? null, auth_token_changed: tokenChanged },
    });
    return voiceView(await getVoiceChannel(tx, who.businessId));
  });
}

export async function readVoiceChannel(pool: pg.Pool, businessId: number): Promise<VoiceChannel> {
  return voiceView(await getVoiceChannel(pool, businessId));
}

export async function readWhatsAppChannel(deps: Pick<ChannelsServiceDeps, 'pool' | 'defaultPhoneNumberId'>, businessId: number): Promise<WhatsAppChannel> {
  return whatsAppView(await getWhatsAppChannel(deps.pool, businessId), deps.defaultPhoneNumberId);
}

/** One secret of a PUT: a new value (sealed here), or the stored one kept (its hint sent back). */
function nextSecret(
  given: string,
  stored: { sealed: string | null; hint: string | null },
  seal: () => string,
  path: string,
  what: 'access token' | 'app secret',
): { sealed: string; hint: string; changed: boolean } {
  if (!isKeptHint(given)) return { sealed: seal(), hint: secretHint(given), changed: true };
  if (stored.sealed === null || stored.hint !== given) {
    throw new ValidationError(msg('channels.secret_not_shown', { what }), [{ path, message: msg('issue.secret_not_shown', { what }) }]);
  }
  return { sealed: stored.sealed, hint: stored.hint, changed: false };
}

/**
 * Sets the business's own WhatsApp sender. A number is one business's (its webhooks are routed
 * by it), and the deployment's shared sender is nobody's.
 */
export async function putWhatsAppChannel(deps: ChannelsServiceDeps, who: AuthContext, body: WhatsAppChannelBody): Promise<WhatsAppChannel> {
  if (body.phone_number_id === deps.defaultPhoneNumberId) {
    throw new ConflictError('phone_number_id_taken', msg('channels.shared_sender', { id: body.phone_number_id }));
  }
  const box = deps.box();
  return withTx(deps.pool, async (tx) => {
    await lockChannels(tx, who.businessId);
    const owner = await whatsAppNumberOwner(tx, body.phone_number_id, who.businessId);
    if (owner !== null) {
      throw new ConflictError('phone_number_id_taken', msg('channels.sender_taken', { id: body.phone_number_id }));
    }
    const current = await getWhatsAppChannel(tx, who.businessId);
    // A kept secret is kept only for the same number: the hint names a secret of that sender.
    const same = current?.phone_number_id === body.phone_number_id ? current : null;
    const access = nextSecret(body.access_token, { sealed: same?.access_token_sealed ?? null, hint: same?.access_token_hint ?? null },
      () => box.seal(body.access_token, WHATSAPP_ACCESS_TOKEN.context(who.businessId)), 'body.access_token', 'access token');
    const given = body.app_secret ?? null;
    const app = given === null ? null : nextSecret(given, { sealed: same?.app_secret_sealed ?? null, hint: same?.app_secret_hint ?? null },
      () => box.seal(given, WHATSAPP_APP_SECRET.context(who.businessId)), 'body.app_secret', 'app secret');
    await upsertWhatsAppChannel(tx, who.businessId, {
      phoneNumberId: body.phone_number_id,
      accessTokenSealed: access.sealed,
      accessTokenHint: access.hint,
      appSecretSealed: app?.sealed ?? null,
      appSecretHint: app?.hint ?? null,
    }).catch((err: unknown) => {
      if ((err as { code?: string }).code === '23505') throw new ConflictError('phone_number_id_taken', msg('channels.sender_claimed', { id: body.phone_number_id }));
      throw err;
    });
    await recordAudit(tx, {
      businessId: who.businessId,
      actor: actorOf(who),
      action: 'channel.update',
      targetType: 'channel',
      targetId: 'whatsapp',
      details: { phone_number_id: body.phone_number_id, access_token_changed: access.changed, app_secret: app === null ? 'none' : app.changed ? 'changed' : 'kept' },
    });
    return whatsAppView(await getWhatsAppChannel(tx, who.businessId), deps.defaultPhoneNumberId);
  });
}
