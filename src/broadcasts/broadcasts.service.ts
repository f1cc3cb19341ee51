import type pg from 'pg';
import { acceptJob, type AcceptDeps, type Accepted, type Idempotency } from '../gate/accept.js';
import { NotFoundError, ValidationError, type Issue } from '../lib/errors.js';
import type { AuthContext } from '../tenancy/tenancy.repo.js';
import type { MessageContent } from '../providers/whatsapp/types.js';
import { getBroadcast, insertBroadcast, insertRecipients, leadPhones, type BroadcastRow } from './broadcasts.repo.js';
import type { BroadcastBody } from './broadcasts.schemas.js';
import { addOptOut, type OptOutRow } from './opt-outs.repo.js';
import { normalizePhone } from '../leads/phone.js';
import { buildRecipientList, type RecipientInput } from './recipients.js';
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
  deps: { accept: AcceptDeps; pool: pg.Pool; phoneNumberId: string },
  who: AuthContext,
  body: BroadcastBody,
  idempotency: Idempotency | undefined,
): Promise<Accepted> {
  const content = contentOf(body);
  const given = body.recipients ?? [];
  const leadIds = body.lead_ids ?? [];
  const referenced = [...new Set([...leadIds, ...given.flatMap((r) => (r.lead_id === undefined ? [] : [r.lead_id]))])];
  const phones = await leadPhones(deps.pool, who.businessId, referenced);
  // The same answer for another business's lead and for no lead at all (Invariant 6).
  const issues: Issue[] = [];
  given.forEach((r, i) => {
    if (r.lead_id !== undefined && !phones.has(r.lead_id)) issues.push({ path: `body.recipients.${i}.lead_id`, message: 'is not a lead of your business' });
  });
  leadIds.forEach((id, i) => {
    if (!phones.has(id)) issues.push({ path: `body.lead_ids.${i}`, message: 'is not a lead of your business' });
  });
  const entries: RecipientInput[] = [
    ...given.map((r, i) => ({ phone: r.phone, leadId: r.lead_id ?? null, path: `body.recipients.${i}.phone` })),
    ...leadIds.flatMap((id, i) => {
      const phone = phones.get(id);
      return phone === undefined ? [] : [{ phone, leadId: id, path: `body.lead_ids.${i}` }];
    }),
  ];
  const list = buildRecipientList(entries, who.defaultCountry);
  issues.push(...list.invalid);
  if (issues.length > 0) {
    const shown = issues.slice(0, MAX_ISSUES);
    throw new ValidationError(
      `${issues.length} recipient${issues.length === 1 ? ' is' : 's are'} invalid (first: ${shown[0]?.path} ${shown[0]?.message}); nothing was sent.`,
      shown,
    );
  }
  const phonesSorted = list.recipients.map((r) => r.phone).sort();
  return acceptJob(deps.accept, {
    caller: who,
    op: 'broadcast_whatsapp',
    params: { message_type: content.type, ...(content.type === 'template' ? { template: content.name } : {}), recipient_count: list.recipients.length } satisfies JobParams<ReturnType<typeof broadcastJob>>,
    identity: { content, phones: phonesSorted },
    total: list.recipients.length,
    idempotency,
    prepare: async (tx, job) => {
      const broadcastId = await insertBroadcast(tx, who.businessId, {
        jobId: job.id, phoneNumberId: deps.phoneNumberId, message: content, duplicates: list.duplicates, createdBy: who.userId,
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

export async function optOut(db: pg.Pool, who: AuthContext, raw: string): Promise<OptOutRow> {
  const phone = normalizePhone(raw, who.defaultCountry);
  if (!phone) {
    throw new ValidationError(`The phone number "${raw}" is not a valid phone number.`, [
      { path: 'body.phone', message: 'is not a valid phone number for the business\'s default country or in international (+…) form' },
    ]);
  }
  return addOptOut(db, who.businessId, phone, 'api');
}
