import { z } from 'zod';
import { msg, zodMessage } from '../lib/messages.js';
import { bigList, checkId, ID_ITEM, isId, isPlainObject } from '../http/big-list.js';
import { RECIPIENT_STATUSES } from './recipient-status.js';

const RawPhone = z.string().min(1).max(40);

/**
 * A lone UTF-16 surrogate survives JSON.parse and zod, then PostgreSQL's jsonb refuses the
 * message that carries it (a 500). Message text is refused instead of silently replaced.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const wellFormed = [(s: string) => !LONE_SURROGATE.test(s), zodMessage(msg('issue.lone_surrogate'))] as const;
const MAX_RECIPIENTS = 100_000;

const Template = z.strictObject({
  name: z.string().min(1).max(512).regex(/^[a-z0-9_]+$/, zodMessage(msg('issue.template_name'))),
  language: z.string().min(2).max(15).regex(/^[A-Za-z]{2,3}(_[A-Za-z0-9]{2,8})?$/, zodMessage(msg('issue.language_code'))),
  variables: z.array(z.string().min(1).max(1024).refine(...wellFormed)).max(100).optional(),
});

/** Up to 100 000 of them: one cheap pass instead of a zod object per item (http/big-list.ts). */
const Recipients = bigList<{ phone: string; lead_id?: number }>({
  max: MAX_RECIPIENTS,
  item: {
    type: 'object',
    properties: { phone: { type: 'string', minLength: 1, maxLength: 40 }, lead_id: ID_ITEM },
    required: ['phone'],
    additionalProperties: false,
  },
  check: (r) => {
    if (!isPlainObject(r)) return msg('issue.recipient_not_object');
    for (const key in r) if (key !== 'phone' && key !== 'lead_id') return msg('issue.unknown_key', { key });
    if (typeof r.phone !== 'string' || r.phone.length < 1 || r.phone.length > 40) return msg('issue.recipient_phone');
    if (r.lead_id !== undefined && !isId(r.lead_id)) return msg('issue.recipient_lead_id');
    return null;
  },
});

export const BroadcastBody = z
  .strictObject({
    text: z.string().trim().min(1).max(4096).refine(...wellFormed).optional().describe('a text message (only inside the 24-hour window of each recipient)'),
    template: Template.optional().describe('an approved template; {{1}}, {{2}} … take `variables` in order'),
    recipients: Recipients.optional(),
    lead_ids: bigList<number>({ max: MAX_RECIPIENTS, item: ID_ITEM, check: checkId }).optional(),
  })
  .refine((b) => (b.text === undefined) !== (b.template === undefined), zodMessage(msg('issue.text_or_template')))
  .refine((b) => (b.recipients?.length ?? 0) + (b.lead_ids?.length ?? 0) > 0, zodMessage(msg('issue.recipients_required')))
  .refine((b) => (b.recipients?.length ?? 0) + (b.lead_ids?.length ?? 0) <= MAX_RECIPIENTS, zodMessage(msg('issue.recipients_at_most', { max: MAX_RECIPIENTS })));
export type BroadcastBody = z.infer<typeof BroadcastBody>;

export const RecipientStatusParam = z.enum(RECIPIENT_STATUSES);

export const OptOutBody = z.strictObject({ phone: RawPhone });
