import type pg from 'pg';
import { acceptJob, type AcceptDeps, type Accepted, type Caller, type Idempotency } from '../gate/accept.js';
import { NotFoundError, ValidationError, type Issue } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import type { AuthContext } from '../people/identity.repo.js';
import type { MessageContent } from '../providers/whatsapp/types.js';
import { getBroadcast, insertBroadcast, insertRecipients, leadPhones, type BroadcastRow } from './broadcasts.repo.js';
import type { BroadcastBody } from './broadcasts.schemas.js';
import { addOptOut, type OptOutRow } from './opt-outs.repo.js';
import { normalizePhone } from '../leads/phone.js';
import { buildRecipientListYielding } from './recipients.js';
import type { RecipientCounts } from './recipient-status.js';
import { progressOf } from './send.repo.js';
import type { broadcastJob } from './broadcast.job.js';
import type { JobParams } from '../jobs/types.js';

const MAX_ISSUES = 50;

function contentOf(body: BroadcastBody): MessageContent {
  if (body.template) {
    return { type: 'template', name: body.template.name, language: body.template.language, variables: body.template.variables };
  }
  return { type: 'text', text: body.text ?? '' };
}

/**
 * Validates and resolves everything first (bad phones, lead ids that are not the caller's:
 * 400, nothing created, the gate untouched), then hands the job, the broadcast and all its
 * recipients to acceptJob: one transaction.
 */
export async function acceptBroadcast(
  deps: { accept: AcceptDeps; pool: pg.Pool; senderOf: (businessId: number) => Promise<string> },
  who: Caller & { defaultCountry: string },
  body: BroadcastBody,
  idempotency: Idempotency | undefined,
): Promise<Accepted> {
  const content = contentOf(body);
  const given = body.recipients ?? [];
  const leadIds = body.lead_ids ?? [];
  // Loops rather than spreads and flatMaps: a body holds up to 100 000 entries, and every
  // throwaway array of that size is garbage the whole process waits on.
  const referencedSet = new Set<number>(leadIds);
  for (const r of given) if (r.lead_id !== undefined) referencedSet.add(r.lead_id);
  const phones = await leadPhones(deps.pool, who.businessId, [...referencedSet]);
  // The same answer for another business's lead and for no lead at all (Invariant 6).
  const issues: Issue[] = [];
  for (let i = 0; i < given.length && issues.length < MAX_ISSUES; i += 1) {
    const leadId = given[i]?.lead_id;
    if (leadId !== undefined && !phones.has(leadId)) issues.push({ path: `body.recipients.${i}.lead_id`, message: msg('issue.not_lead_of_business') });
  }
  for (let i = 0; i < leadIds.length && issues.length < MAX_ISSUES; i += 1) {
    if (!phones.has(leadIds[i] as number)) issues.push({ path: `body.lead_ids.${i}`, message: msg('issue.not_lead_of_business') });
  }
  const entryAt = (i: number) => {
    if (i < given.length) {
      const r = given[i] as { phone: string; lead_id?: number };
      return { phone: r.phone, leadId: r.lead_id ?? null, path: () => `body.recipients.${i}.phone` };
    }
    const j = i - given.length;
    const id = leadIds[j] as number;
    const phone = phones.get(id);
    return phone === undefined ? null : { phone, leadId: id, path: () => `body.lead_ids.${j}` };
  };
  const list = issues.length >= MAX_ISSUES
    ? { recipients: [], duplicates: 0, invalid: [], complete: false }
    : await buildRecipientListYielding(given.length + leadIds.length, entryAt, who.defaultCountry, { maxInvalid: MAX_ISSUES - issues.length });
  issues.push(...list.invalid);
  if (issues.length > 0) {
    const shown = issues.slice(0, MAX_ISSUES);
    const first = shown[0] as Issue;
    throw new ValidationError(msg('broadcasts.recipients_invalid', { count: issues.length, complete: list.complete, first }), shown);
  }
  const phonesSorted = list.recipients.map((r) => r.phone).sort();
  // The sender is fixed at creation: the business's own number, or the deployment's.
  const phoneNumberId = await deps.senderOf(who.businessId);
  return acceptJob(deps.accept, {
    caller: who,
    op: 'broadcast_whatsapp',
    params: { message_type: content.type, ...(content.type === 'template' ? { template: content.name } : {}), recipient_count: list.recipients.length } satisfies JobParams<ReturnType<typeof broadcastJob>>,
    identity: { content, phones: phonesSorted },
    total: list.recipients.length,
    idempotency,
    prepare: async (tx, job) => {
      const broadcastId = await insertBroadcast(tx, who.businessId, {
        jobId: job.id, phoneNumberId, message: content, duplicates: list.duplicates, createdBy: who.userId,
      });
      const inserted = await insertRecipients(tx, who.businessId, broadcastId, list.recipients);
      return { broadcast_id: broadcastId, recipients: list.recipients.length, skipped: inserted.skipped, duplicates: list.duplicates };
    },
  });
}

export async function getBroadcastWithCounts(db: pg.Pool, businessId: number, id: number): Promise<{ broadcast: BroadcastRow; counts: RecipientCounts }> {
  const broadcast = await getBroadcast(db, businessId, id);
  if (!broadcast) throw new NotFoundError('Broadcast');
  const { counts } = await progressOf(db, businessId, id);
  return { broadcast, counts };
}

export async function optOut(db: pg.Pool, who: Pick<AuthContext, 'businessId' | 'defaultCountry'>, raw: string): Promise<OptOutRow> {
  const phone = normalizePhone(raw, who.defaultCountry);
  if (!phone) {
    throw new ValidationError(msg('leads.phone_invalid', { raw }), [{ path: 'body.phone', message: msg('issue.phone_invalid_here') }]);
  }
  return addOptOut(db, who.businessId, phone, 'api');
}
