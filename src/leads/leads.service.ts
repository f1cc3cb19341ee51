import type { Queryable } from '../db/pool.js';
import { ConflictError, NotFoundError, ValidationError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import {
  findLeadIdByPhone,
  getLeadWithCounts,
  insertActivity,
  insertLead,
  insertNote,
  insertReminder,
  type LeadCounts,
  type LeadRow,
} from './leads.repo.js';
import { uniqueTags } from './leads.schemas.js';
import { normalizePhone } from './phone.js';

export interface LeadCaller {
  businessId: number;
  userId: number;
  defaultCountry: string;
}

export interface CreateLeadInput {
  phone: string;
  name?: string | undefined;
  email?: string | undefined;
  status?: string | undefined;
  tags?: string[] | undefined;
}

function invalidPhone(path: string, raw: string): ValidationError {
  return new ValidationError(msg('leads.phone_invalid', { raw }), [{ path, message: msg('issue.phone_invalid_here') }]);
}

export async function createLead(db: Queryable, who: LeadCaller, input: CreateLeadInput): Promise<LeadRow> {
  const phone = normalizePhone(input.phone, who.defaultCountry);
  if (!phone) throw invalidPhone('body.phone', input.phone);
  const lead = {
    phone,
    name: input.name ?? null,
    email: input.email ?? null,
    status: input.status ?? 'new',
    tags: uniqueTags(input.tags ?? []),
  };
  // ON CONFLICT … DO NOTHING and then a lookup, rather than catching 23505: the insert never
  // aborts a surrounding transaction. The lookup can miss if the other lead was deleted in
  // between; then the phone is free again and one more insert settles it.
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const created = await insertLead(db, who.businessId, lead);
    if (created) return created;
    const existing = await findLeadIdByPhone(db, who.businessId, phone);
    if (existing !== null) {
      throw new ConflictError('lead_exists', msg('leads.lead_exists', { phone, leadId: existing }), { lead_id: existing, phone });
    }
  }
  throw new ConflictError('lead_exists', msg('leads.lead_exists', { phone }), { phone });
}

export async function getLead(db: Queryable, businessId: number, id: number): Promise<LeadRow & { counts: LeadCounts }> {
  const lead = await getLeadWithCounts(db, businessId, id);
  if (!lead) throw new NotFoundError('Lead');
  return lead;
}

function found<T>(row: T | null): T {
  if (row === null) throw new NotFoundError('Lead');
  return row;
}

export const addNote = async (db: Queryable, who: LeadCaller, leadId: number, text: string) =>
  found(await insertNote(db, who.businessId, leadId, who.userId, text));

export const addActivity = async (db: Queryable, who: LeadCaller, leadId: number, a: { type: string; text: string }) =>
  found(await insertActivity(db, who.businessId, leadId, who.userId, a));

export const addReminder = async (db: Queryable, who: LeadCaller, leadId: number, r: { dueAt: string; text: string }) =>
  found(await insertReminder(db, who.businessId, leadId, who.userId, r));
