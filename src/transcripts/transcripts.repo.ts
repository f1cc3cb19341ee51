import type { Queryable } from '../db/pool.js';
import type { TranscriptSegment } from '../providers/transcription/types.js';

export type TranscriptStatus = 'pending' | 'completed' | 'failed';

export interface TranscriptRow {
  id: number;
  business_id: number;
  call_id: number;
  call_sid: string;
  status: TranscriptStatus;
  language: string | null;
  text: string | null;
  segments: TranscriptSegment[];
  error: string | null;
  attempts: number;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

const COLUMNS = `id, business_id, call_id, call_sid, status, language, text, segments, error, attempts, created_at, updated_at, completed_at`;

export async function getTranscriptByCallSid(db: Queryable, businessId: number, callSid: string): Promise<TranscriptRow | null> {
  const { rows } = await db.query<TranscriptRow>(`SELECT ${COLUMNS} FROM transcripts WHERE business_id = $1 AND call_sid = $2`, [businessId, callSid]);
  return rows[0] ?? null;
}

/**
 * The call's transcript as `pending`. `again`: a re-transcription (bulk) resets a finished one;
 * otherwise an existing row is left alone and false is returned (a repeated recording webhook
 * must not transcribe twice).
 */
export async function markPending(db: Queryable, businessId: number, callId: number, callSid: string, again: boolean): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO transcripts (business_id, call_id, call_sid, status) VALUES ($1, $2, $3, 'pending')
     ON CONFLICT (business_id, call_id) DO UPDATE SET status = 'pending', error = NULL, updated_at = now()
       WHERE $4::boolean`,
    [businessId, callId, callSid, again],
  );
  return (rowCount ?? 0) > 0;
}

export async function completeTranscript(
  db: Queryable,
  businessId: number,
  callId: number,
  t: { language: string; text: string; segments: TranscriptSegment[] },
): Promise<void> {
  await db.query(
    `UPDATE transcripts SET status = 'completed', language = $3, text = $4, segments = $5::jsonb, error = NULL,
                            attempts = attempts + 1, completed_at = now(), updated_at = now()
      WHERE business_id = $1 AND call_id = $2`,
    [businessId, callId, t.language, t.text, JSON.stringify(t.segments)],
  );
}

export async function failTranscript(db: Queryable, businessId: number, callId: number, error: string): Promise<void> {
  await db.query(
    `UPDATE transcripts SET status = 'failed', error = $3, attempts = attempts + 1, updated_at = now()
      WHERE business_id = $1 AND call_id = $2`,
    [businessId, callId, error.slice(0, 1000)],
  );
}

export async function businessLanguage(db: Queryable, businessId: number): Promise<string> {
  const { rows } = await db.query<{ locale: string }>(`SELECT locale FROM businesses WHERE id = $1`, [businessId]);
  return rows[0]?.locale ?? 'he';
}

/** A search hit: the call and its rank, for the keyset (rank DESC, call id DESC). */
export interface SearchHit {
  call_id: number;
  rank: number;
}

/**
 * Calls whose completed transcript matches `q` (websearch syntax: words are ANDed, "quoted
 * phrases", `or`, `-word`), best first, scoped by business. Keyset-paginated by (rank, call id):
 * the rank is a float4 computed the same way every time, so a cursor lands exactly.
 */
export async function searchTranscripts(
  db: Queryable,
  businessId: number,
  q: string,
  after: { rank: number; callId: number } | null,
  limit: number,
): Promise<SearchHit[]> {
  const { rows } = await db.query<SearchHit>(
    `SELECT call_id, rank FROM (
       SELECT call_id, ts_rank(search, query) AS rank
         FROM transcripts, websearch_to_tsquery('simple', $2) query
        WHERE business_id = $1 AND status = 'completed' AND search @@ query) hits
      WHERE $3::real IS NULL OR (rank, call_id) < ($3::real, $4::bigint)
      ORDER BY rank DESC, call_id DESC
      LIMIT $5`,
    [businessId, q, after?.rank ?? null, after?.callId ?? null, limit],
  );
  return rows.map((r) => ({ call_id: Number(r.call_id), rank: Number(r.rank) }));
}
