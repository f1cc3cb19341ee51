import type { QueryConfig } from 'pg';
import type { Queryable } from '../db/pool.js';

export type LeadSource = 'manual' | 'import';

export interface LeadRow {
  id: number;
  business_id: number;
  name: string | null;
  phone: string;
  email: string | null;
  status: string;
  tags: string[];
  source: LeadSource;
  import_id: number | null;
  owner_user_id: number | null;
  created_at: Date;
  updated_at: Date;
}

export interface LeadCounts {
  notes: number;
  activities: number;
  reminders: number;
}

const LEAD_COLUMNS = 'id, business_id, name, phone, email, status, tags, source, import_id, owner_user_id, created_at, updated_at';

export interface NewLead {
  name: string | null;
  phone: string;
  email: string | null;
  status: string;
  tags: string[];
}

/** Inserts a manual lead; null when the business already has a lead with this phone. */
export async function insertLead(db: Queryable, businessId: number, lead: NewLead): Promise<LeadRow | null> {
  const { rows } = await db.query<LeadRow>(
    `INSERT INTO leads (business_id, name, phone, email, status, tags, source)
     VALUES ($1, $2, $3, $4, $5, $6, 'manual')
     ON CONFLICT (business_id, phone) DO NOTHING
     RETURNING ${LEAD_COLUMNS}`,
    [businessId, lead.name, lead.phone, lead.email, lead.status, lead.tags],
  );
  return rows[0] ?? null;
}

export async function findLeadIdByPhone(db: Queryable, businessId: number, phone: string): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(`SELECT id FROM leads WHERE business_id = $1 AND phone = $2`, [businessId, phone]);
  return rows[0]?.id ?? null;
}

export async function getLeadWithCounts(db: Queryable, businessId: number, id: number): Promise<(LeadRow & { counts: LeadCounts }) | null> {
  // Children carry business_id too; filtering on it keeps every statement tenant-scoped even
  // though lead_id alone would do.
  const { rows } = await db.query<LeadRow & { notes: number; activities: number; reminders: number }>(
    `SELECT ${LEAD_COLUMNS},
            (SELECT count(*)::int FROM lead_notes n WHERE n.business_id = $1 AND n.lead_id = l.id) AS notes,
            (SELECT count(*)::int FROM lead_activities a WHERE a.business_id = $1 AND a.lead_id = l.id) AS activities,
            (SELECT count(*)::int FROM lead_reminders r WHERE r.business_id = $1 AND r.lead_id = l.id) AS reminders
       FROM leads l
      WHERE l.business_id = $1 AND l.id = $2`,
    [businessId, id],
  );
  const row = rows[0];
  if (!row) return null;
  const { notes, activities, reminders, ...lead } = row;
  return { ...lead, counts: { notes, activities, reminders } };
}

export interface LeadFilter {
  status?: string | undefined;
  source?: LeadSource | undefined;
  importId?: number | undefined;
  tag?: string | undefined;
  q?: string | undefined;
  afterId?: number | undefined;
  limit: number;
}

/** `%`, `_` and `\` typed by a user are literal characters, not patterns. */
export function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * The list query for the given filters, oldest first (keyset on id). Pure, so the combination
 * of filters is testable without a database; only placeholders ever enter the SQL text.
 */
export function listLeadsQuery(businessId: number, f: LeadFilter): QueryConfig {
  const values: unknown[] = [businessId];
  const where = ['business_id = $1'];
  const param = (v: unknown): string => {
    values.push(v);
    return `$${values.length}`;
  };
  if (f.status !== undefined) where.push(`status = ${param(f.status)}`);
  if (f.source !== undefined) where.push(`source = ${param(f.source)}`);
  if (f.importId !== undefined) where.push(`import_id = ${param(f.importId)}`);
  if (f.tag !== undefined) where.push(`tags @> ARRAY[${param(f.tag)}]::text[]`);
  if (f.q !== undefined && f.q.trim() !== '') {
    const q = f.q.trim();
    const p = param(likeContains(q));
    const matches = [`name ILIKE ${p}`, `email ILIKE ${p}`, `phone ILIKE ${p}`];
    // "(212) 555" should find +12125550100: compare digits with digits as well.
    const digits = q.replace(/\D/g, '');
    if (digits.length >= 3 && digits !== q) matches.push(`phone LIKE ${param(likeContains(digits))}`);
    where.push(`(${matches.join(' OR ')})`);
  }
  if (f.afterId !== undefined) where.push(`id > ${param(f.afterId)}`);
  const limit = param(f.limit);
  return {
    text: `SELECT ${LEAD_COLUMNS} FROM leads WHERE ${where.join(' AND ')} ORDER BY id LIMIT ${limit}`,
    values,
  };
}

export async function listLeads(db: Queryable, businessId: number, f: LeadFilter): Promise<LeadRow[]> {
  const { rows } = await db.query<LeadRow>(listLeadsQuery(businessId, f));
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Children. Each insert reads the lead in the same statement, so a lead of another business (or
// one deleted a moment ago) yields no row and the caller answers 404: no check-then-act race.

export interface NoteRow {
  id: number;
  lead_id: number;
  text: string;
  created_by: number | null;
  created_at: Date;
}

export interface ActivityRow extends NoteRow {
  type: string;
}

export interface ReminderRow extends NoteRow {
  due_at: Date;
}

// FOR KEY SHARE on the lead: a child has no foreign key to its lead any more
// (012_children_without_cascade.sql), so an insert waits for a bulk delete that holds the lead
// and then finds it gone (404) instead of leaving an orphan in no trash.
export async function insertNote(db: Queryable, businessId: number, leadId: number, userId: number, text: string): Promise<NoteRow | null> {
  const { rows } = await db.query<NoteRow>(
    `INSERT INTO lead_notes (business_id, lead_id, text, created_by)
     SELECT $1, l.id, $3, $4 FROM leads l WHERE l.business_id = $1 AND l.id = $2 FOR KEY SHARE
     RETURNING id, lead_id, text, created_by, created_at`,
    [businessId, leadId, text, userId],
  );
  return rows[0] ?? null;
}

export async function insertActivity(
  db: Queryable,
  businessId: number,
  leadId: number,
  userId: number,
  a: { type: string; text: string },
): Promise<ActivityRow | null> {
  const { rows } = await db.query<ActivityRow>(
    `INSERT INTO lead_activities (business_id, lead_id, type, text, created_by)
     SELECT $1, l.id, $3, $4, $5 FROM leads l WHERE l.business_id = $1 AND l.id = $2 FOR KEY SHARE
     RETURNING id, lead_id, type, text, created_by, created_at`,
    [businessId, leadId, a.type, a.text, userId],
  );
  return rows[0] ?? null;
}

export async function insertReminder(
  db: Queryable,
  businessId: number,
  leadId: number,
  userId: number,
  r: { dueAt: string; text: string },
): Promise<ReminderRow | null> {
  const { rows } = await db.query<ReminderRow>(
    `INSERT INTO lead_reminders (business_id, lead_id, due_at, text, created_by)
     SELECT $1, l.id, $3, $4, $5 FROM leads l WHERE l.business_id = $1 AND l.id = $2 FOR KEY SHARE
     RETURNING id, lead_id, due_at, text, created_by, created_at`,
    [businessId, leadId, r.dueAt, r.text, userId],
  );
  return rows[0] ?? null;
}

export async function isUserOfBusiness(db: Queryable, businessId: number, userId: number): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM users WHERE business_id = $1 AND id = $2`, [businessId, userId]);
  return rows.length > 0;
}
