import type { Issue } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
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
 * of each number. Invalid phones are collected (the request is refused with a 400 naming each
 * path) rather than skipped: a typo in a broadcast list is something the sender wants to fix
 * before anything is sent, and "changes nothing on bad input" is an invariant. Fed in pieces by
 * buildRecipientListYielding, or all at once by buildRecipientList.
 */
class RecipientListBuilder {
  readonly #seen = new Map<string, { phone: string; leadId: number | null }>();
  readonly invalid: Issue[] = [];
  #duplicates = 0;

  constructor(private readonly defaultCountry: string) {}

  add(e: RecipientInput): void {
    this.addLazy(e.phone, e.leadId, () => e.path);
  }

  addLazy(raw: string, leadId: number | null, path: () => string): void {
    const phone = normalizePhone(raw, this.defaultCountry);
    if (!phone) {
      this.invalid.push({ path: path(), message: msg('issue.phone_invalid_here') });
      return;
    }
    const existing = this.#seen.get(phone);
    if (existing) {
      this.#duplicates += 1;
      if (existing.leadId === null && leadId !== null) existing.leadId = leadId;
      return;
    }
    this.#seen.set(phone, { phone, leadId });
  }

  result(): RecipientList {
    return { recipients: [...this.#seen.values()], duplicates: this.#duplicates, invalid: this.invalid };
  }
}

/** The whole list at once. Pure. */
export function buildRecipientList(entries: readonly RecipientInput[], defaultCountry: string): RecipientList {
  const builder = new RecipientListBuilder(defaultCountry);
  for (const e of entries) builder.add(e);
  return builder.result();
}

/**
 * The same list, built on the request's event loop without holding it: a phone costs ~30-50 µs
 * to parse, so 100 000 of them are seconds during which every other request (of every business)
 * would wait. The work yields every few milliseconds, and stops at `maxInvalid` invalid phones —
 * the answer is a 400 by then, and a list of 100 000 invalid phones costs no more than a short one.
 * Entries are read by index (`entryAt`, null to skip one) and paths spelled only for an invalid
 * one, so a 100 000-entry request allocates no list of entries beside its body.
 */
export async function buildRecipientListYielding(
  count: number,
  entryAt: (i: number) => { phone: string; leadId: number | null; path: () => string } | null,
  defaultCountry: string,
  opts: { maxInvalid: number; sliceMs?: number },
): Promise<RecipientList & { complete: boolean }> {
  const builder = new RecipientListBuilder(defaultCountry);
  const sliceMs = opts.sliceMs ?? 4;
  let sliceStart = performance.now();
  for (let i = 0; i < count; i += 1) {
    const e = entryAt(i);
    if (e !== null) builder.addLazy(e.phone, e.leadId, e.path);
    if (builder.invalid.length >= opts.maxInvalid) return { ...builder.result(), complete: i === count - 1 };
    if ((i & 63) === 63 && performance.now() - sliceStart > sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
  return { ...builder.result(), complete: true };
}
