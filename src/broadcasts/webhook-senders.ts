import type { Queryable } from '../db/pool.js';
import { verifySignature } from '../providers/whatsapp/signature.js';

/**
 * Which app secret verifies a WhatsApp webhook (DESIGN.md invariant 11). Meta signs each app's
 * webhooks with that app's secret, and a business with its own sender may have its own app: a
 * body is verified with the secret of the numbers it reports on (`metadata.phone_number_id`) —
 * the business's own app secret for a number that is a business's channel with one, else the
 * deployment's WHATSAPP_APP_SECRET. So another business's app (or ours) cannot report on a
 * business's number: signed with the wrong secret, it is a 403.
 *
 * The numbers are read from the raw body before it is verified, only to choose the key: nothing
 * of the body is acted on before its signature matches. A real app never mixes its numbers with
 * another app's in one POST; a body whose numbers need two different secrets is refused.
 */

/** Phone number ids as channels store them (channels.routes.ts): only such ids are looked up. */
const CHANNEL_NUMBER = /^[0-9]{1,32}$/;
/** More numbers than any real delivery carries are not looked up one by one. */
const MAX_NUMBERS = 100;

/** The distinct `entry[].changes[].value.metadata.phone_number_id` strings of a body; [] when it is not such JSON. Pure. */
export function senderNumbersOf(raw: Buffer): string[] {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return [];
  }
  const out = new Set<string>();
  const entries = (json as { entry?: unknown } | null)?.entry;
  if (!Array.isArray(entries)) return [];
  for (const entry of entries) {
    const changes = (entry as { changes?: unknown } | null)?.changes;
    if (!Array.isArray(changes)) continue;
    for (const change of changes) {
      const id = (change as { value?: { metadata?: { phone_number_id?: unknown } } } | null)?.value?.metadata?.phone_number_id;
      if (typeof id === 'string') out.add(id);
      if (out.size > MAX_NUMBERS) return [...out];
    }
  }
  return [...out];
}

export interface OwnSender {
  businessId: number;
  /** null: this business's number is verified with the deployment's app secret. */
  appSecret: string | null;
}

export interface SenderLookup {
  defaultAppSecret: string;
  defaultPhoneNumberId: string;
  /** The businesses' channels among these numbers (only channel-shaped ids are asked). */
  ownSenders(numbers: readonly string[]): Promise<Map<string, OwnSender>>;
}

export type WebhookVerdict =
  /** Signed by the app of every number it names: act on it. `owners`: the business of each channel number. */
  | { kind: 'verified'; owners: Map<string, number> }
  /** Not signed by that app, and it names no number we send from: acknowledged (Meta stops retrying) and ignored. */
  | { kind: 'unknown_numbers'; numbers: string[] }
  | { kind: 'forbidden' };

/** The secrets that must have signed a body naming `numbers` (distinct). Pure. */
export function requiredSecrets(numbers: readonly string[], own: ReadonlyMap<string, OwnSender>, defaultAppSecret: string): string[] {
  if (numbers.length === 0) return [defaultAppSecret];
  return [...new Set(numbers.map((n) => own.get(n)?.appSecret ?? defaultAppSecret))];
}

export async function verifyWebhook(db: Queryable, raw: Buffer, signature: string | string[] | undefined, lookup: SenderLookup): Promise<WebhookVerdict> {
  const numbers = senderNumbersOf(raw);
  const asked = numbers.filter((n) => CHANNEL_NUMBER.test(n)).slice(0, MAX_NUMBERS);
  const own = asked.length > 0 ? await lookup.ownSenders(asked) : new Map<string, OwnSender>();
  const secrets = requiredSecrets(numbers, own, lookup.defaultAppSecret);
  const [secret] = secrets;
  if (secrets.length === 1 && secret !== undefined && verifySignature(raw, signature, secret)) {
    return { kind: 'verified', owners: new Map([...own].map(([n, s]) => [n, s.businessId])) };
  }
  // Not ours to verify: numbers that are no business's channel, not the deployment's sender and
  // never sent a broadcast (another app's, or one a business has moved away from).
  const unknown = numbers.length > 0 && own.size === 0 && asked.length === numbers.length
    && !numbers.includes(lookup.defaultPhoneNumberId) && !(await anySent(db, numbers));
  return unknown ? { kind: 'unknown_numbers', numbers } : { kind: 'forbidden' };
}

async function anySent(db: Queryable, numbers: readonly string[]): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM whatsapp_broadcasts WHERE phone_number_id = ANY($1::text[]) LIMIT 1`, [numbers]);
  return rows.length > 0;
}
