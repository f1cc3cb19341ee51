import type { Queryable } from '../db/pool.js';
import { jobSummariesOf } from '../jobs/domain-api.js';
import type { MessageContent } from '../providers/whatsapp/types.js';
import type { RecipientStatus } from './recipient-status.js';

export interface BroadcastRow {
  id: number;
  business_id: number;
  job_id: number;
  phone_number_id: string;
  message: MessageContent;
  duplicates: number;
  created_by: number | null;
  created_at: Date;
  /** The job's status (null once the finished job was pruned). */
  job_status: string | null;
  last_error: string | null;
}

type BroadcastOnly = Omit<BroadcastRow, 'job_status' | 'last_error'>;
const BROADCAST_COLUMNS = `b.id, b.business_id, b.job_id, b.phone_number_id, b.message, b.duplicates, b.created_by, b.created_at`;

export async function insertBroadcast(
  db: Queryable,
  businessId: number,
  b: { jobId: number; phoneNumberId: string; message: MessageContent; duplicates: number; createdBy: number },
): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO whatsapp_broadcasts (business_id, job_id, phone_number_id, message, duplicates, created_by)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [businessId, b.jobId, b.phoneNumberId, JSON.stringify(b.message), b.duplicates, b.createdBy],
  );
  const id = rows[0]?.id;
  if (id === undefined) throw new Error('insert whatsapp_broadcasts returned no row');
  return id;
}

/** All recipients in one statement; numbers on the business's opt-out list are `skipped`. */
export async function insertRecipients(
  db: Queryable,
  businessId: number,
  broadcastId: number,
  recipients: readonly { phone: string; leadId: number | null }[],
): Promise<{ queued: number; skipped: number }> {
  const { rows } = await db.query<{ queued: number; skipped: number }>(
    `WITH ins AS (
       INSERT INTO whatsapp_recipients (business_id, broadcast_id, phone, lead_id, status, reason)
       SELECT $1, $2, p.phone, p.lead_id,
              CASE WHEN o.phone IS NULL THEN 'queued' ELSE 'skipped' END,
              CASE WHEN o.phone IS NULL THEN NULL ELSE 'opted_out' END
         FROM unnest($3::text[], $4::bigint[]) WITH ORDINALITY AS p(phone, lead_id, ord)
         LEFT JOIN whatsapp_opt_outs o ON o.business_id = $1 AND o.phone = p.phone
        ORDER BY p.ord
       RETURNING status)
     SELECT count(*) FILTER (WHERE status = 'queued')::int AS queued, count(*) FILTER (WHERE status = 'skipped')::int AS skipped FROM ins`,
    [businessId, broadcastId, recipients.map((r) => r.phone), recipients.map((r) => r.leadId)],
  );
  return rows[0] ?? { queued: 0, skipped: 0 };
}

export async function getBroadcast(db: Queryable, businessId: number, id: number): Promise<BroadcastRow | null> {
  const { rows } = await db.query<BroadcastOnly>(
    `SELECT ${BROADCAST_COLUMNS} FROM whatsapp_broadcasts b WHERE b.business_id = $1 AND b.id = $2`,
    [businessId, id],
  );
  return (await withJobs(db, businessId, rows))[0] ?? null;
}

export async function getBroadcastByJob(db: Queryable, businessId: number, jobId: number): Promise<BroadcastRow | null> {
  const { rows } = await db.query<BroadcastOnly>(
    `SELECT ${BROADCAST_COLUMNS} FROM whatsapp_broadcasts b WHERE b.business_id = $1 AND b.job_id = $2`,
    [businessId, jobId],
  );
  return (await withJobs(db, businessId, rows))[0] ?? null;
}

export async function listBroadcasts(db: Queryable, businessId: number, f: { beforeId?: number | undefined; limit: number }): Promise<BroadcastRow[]> {
  const { rows } = await db.query<BroadcastOnly>(
    `SELECT ${BROADCAST_COLUMNS}
       FROM whatsapp_broadcasts b
      WHERE b.business_id = $1 AND ($2::bigint IS NULL OR b.id < $2)
      ORDER BY b.id DESC LIMIT $3`,
    [businessId, f.beforeId ?? null, f.limit],
  );
  return withJobs(db, businessId, rows);
}

/** The jobs' status and error, in one query for the whole page. */
async function withJobs(db: Queryable, businessId: number, rows: BroadcastOnly[]): Promise<BroadcastRow[]> {
  const jobs = await jobSummariesOf(db, businessId, rows.map((b) => b.job_id));
  return rows.map((b) => {
    const job = jobs.get(b.job_id);
    return { ...b, job_status: job?.status ?? null, last_error: job?.last_error ?? null };
  });
}

export interface RecipientRow {
  id: number;
  phone: string;
  lead_id: number | null;
  status: RecipientStatus;
  reason: string | null;
  error_code: number | null;
  attempts: number;
  next_attempt_at: Date | null;
  message_id: string | null;
  sent_at: Date | null;
  delivered_at: Date | null;
  read_at: Date | null;
  updated_at: Date;
}

export async function listRecipients(
  db: Queryable,
  businessId: number,
  broadcastId: number,
  f: { status?: RecipientStatus | undefined; afterId?: number | undefined; limit: number },
): Promise<RecipientRow[]> {
  const { rows } = await db.query<RecipientRow>(
    `SELECT id, phone, lead_id, status, reason, error_code, attempts, next_attempt_at, message_id, sent_at, delivered_at, read_at, updated_at
       FROM whatsapp_recipients
      WHERE business_id = $1 AND broadcast_id = $2 AND ($3::text IS NULL OR status = $3) AND ($4::bigint IS NULL OR id > $4)
      ORDER BY id LIMIT $5`,
    [businessId, broadcastId, f.status ?? null, f.afterId ?? null, f.limit],
  );
  return rows;
}

/** The business's leads among `ids`, with their (already E.164) phones. */
export async function leadPhones(db: Queryable, businessId: number, ids: readonly number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ id: number; phone: string }>(
    `SELECT id, phone FROM leads WHERE business_id = $1 AND id = ANY($2::bigint[])`,
    [businessId, ids],
  );
  return new Map(rows.map((r) => [r.id, r.phone]));
}
