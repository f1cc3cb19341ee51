import type { Issue } from '../lib/errors.js';
import { normalizePhone } from '../leads/phone.js';

export interface RecipientInput {
  phone: string;
  leadId: number | null;
  /** Where it came from in the request, for error messages (`body.recipients.3.phone`). */
  path: string;
}

export interface RecipientList {
  recipients: { phone: string; leadId: number | null }[];
  /** Entries whose normalized phone was already in the list (sent once). */
  duplicates: number;
  invalid: Issue[];
}

/**
 * Normalizes every phone to E.164 in the business's default country and keeps the first entry
 * of each number. Pure. Invalid phones are collected (the request is refused with a 400 naming
 * each path) rather than skipped: a typo in a broadcast list is something the sender wants to
 * fix before anything is sent, and "changes nothing on bad input" is an invariant.
 */
export function buildRecipientList(entries: readonly RecipientInput[], defaultCountry: string): RecipientList {
  const seen = new Map<string, { phone: string; leadId: number | null }>();
  const invalid: Issue[] = [];
  let duplicates = 0;
  for (const e of entries) {
    const phone = normalizePhone(e.phone, defaultCountry);
    if (!phone) {
      invalid.push({ path: e.path, message: 'is not a valid phone number for the business\'s default country or in international (+…) form' });
      continue;
    }
    const existing = seen.get(phone);
    if (existing) {
      duplicates += 1;
      if (existing.leadId === null && e.leadId !== null) existing.leadId = e.leadId;
      continue;
    }
    seen.set(phone, { phone, leadId: e.leadId });
  }
  return { recipients: [...seen.values()], duplicates, invalid };
}
