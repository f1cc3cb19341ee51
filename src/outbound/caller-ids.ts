import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { Queryable } from '../db/pool.js';

/**
 * Which number a call goes out from (API.md "Channels"): one of the business's caller ids, one of
 * the lead's country first, round robin; the deployment's TWILIO_FROM for a business with none.
 *
 * The round robin's state is a use count per caller id (voice_caller_ids.uses), read and
 * advanced inside the claim that holds the business's slot lock: each call takes the least used
 * of the numbers that fit it. One cursor per business (instead) skips numbers when countries mix:
 * with [IL1, IL2, US1] and leads IL, US, IL, US … a shared cursor lands on IL1 for every IL lead.
 */
export interface CallerId {
  number: string;
  /** ISO country of the number (null: unknown). */
  country: string | null;
  uses: number;
}

/** The country of an E.164 number (null when libphonenumber cannot tell). */
export function countryOf(e164: string): string | null {
  return parsePhoneNumberFromString(e164)?.country ?? null;
}

/**
 * The caller id for each destination, in order. Pure; `callerIds` are not changed. Ties go to
 * the earlier number in the business's list.
 */
export function pickCallerIds(callerIds: readonly CallerId[], destinations: readonly string[], fallback: string): string[] {
  if (callerIds.length === 0) return destinations.map(() => fallback);
  const uses = callerIds.map((c) => c.uses);
  return destinations.map((to) => {
    const country = countryOf(to);
    const local = callerIds.flatMap((c, i) => (country !== null && c.country === country ? [i] : []));
    const fitting = local.length > 0 ? local : callerIds.map((_, i) => i);
    let best = fitting[0] ?? 0;
    for (const i of fitting) if ((uses[i] ?? 0) < (uses[best] ?? 0)) best = i;
    uses[best] = (uses[best] ?? 0) + 1;
    return callerIds[best]?.number ?? fallback;
  });
}

/** SQL (business id at $1): the business's caller ids as a JSON array of CallerId, in its order. */
export const CALLER_IDS_SQL = `(SELECT coalesce(json_agg(json_build_object('number', caller_id, 'country', country, 'uses', uses) ORDER BY position), '[]')
                                  FROM voice_caller_ids WHERE business_id = $1)`;

/** SQL (business id at $1): the business's own Twilio account sid, or NULL for the deployment's. */
export const ACCOUNT_SID_SQL = `(SELECT account_sid FROM voice_channels WHERE business_id = $1)`;

/** The business's caller ids and account, read under its slot lock (direct calls). */
export async function voiceRouteOf(db: Queryable, businessId: number): Promise<{ callerIds: CallerId[]; accountSid: string | null }> {
  const { rows } = await db.query<{ caller_ids: CallerId[]; account_sid: string | null }>(
    `SELECT ${CALLER_IDS_SQL} AS caller_ids, ${ACCOUNT_SID_SQL} AS account_sid`,
    [businessId],
  );
  return { callerIds: rows[0]?.caller_ids ?? [], accountSid: rows[0]?.account_sid ?? null };
}

/** Counts the numbers used, for the round robin (in the claim's transaction). */
export async function countCallerIdUses(db: Queryable, businessId: number, used: readonly string[]): Promise<void> {
  if (used.length === 0) return;
  await db.query(
    `UPDATE voice_caller_ids v SET uses = v.uses + u.n
       FROM (SELECT f, count(*) AS n FROM unnest($2::text[]) f GROUP BY f) u
      WHERE v.business_id = $1 AND v.caller_id = u.f`,
    [businessId, used],
  );
}
