import type pg from 'pg';
import { z } from 'zod';
import { GMAIL_REFRESH_TOKEN } from '../channels/sealed-fields.js';
import { defineJob } from '../jobs/types.js';
import { backoffMs } from '../lib/backoff.js';
import { PermanentError } from '../lib/errors.js';
import { english, msg } from '../lib/messages.js';
import type { SecretBox } from '../lib/secret-box.js';
import { GmailHistoryExpired, GmailUnavailable, GoogleGrantError, mailboxOf, type GoogleSettings, type Mailbox } from '../providers/google/google.js';
import { extractReceipt, RECEIPT_QUERY } from './extract.js';
import { parseGmailMessage, pdfAttachment, decodeBase64Url } from './gmail-message.js';
import { getConnection, markReauthRequired, recordSyncDone, setLastError } from './gmail.repo.js';
import { nextSyncAt } from './sync-schedule.js';
import { insertGmailReceipt, knownGmailMessages, type GmailReceipt } from './receipts.repo.js';

/**
 * Messages per batch at most: one Gmail page, read and stored in one batch transaction (kept
 * short); a smaller engine batch size (JOB_BATCH_SIZE, or the adaptive size) makes the page smaller.
 */
const PAGE_SIZE = 25;
/** Messages read at once, to hide Gmail's latency; the quota is kept by the mailbox's pace (quota.ts), not by this. */
const READ_CONCURRENCY = 5;
/** A PDF larger than this is not stored (the receipt is, without it). */
const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;
/** Gmail's 429 / 5xx answers in a row that the job waits out (Retry-After, backoff) before failing its batch. */
const MAX_UNAVAILABLE = 6;

/**
 * How long the sync waits after Gmail's `answers`-th 429 / 5xx in a row: Gmail's Retry-After when
 * it sent one, never less than exponential backoff from 1 s (full jitter, capped at a minute) —
 * Google's guidance for both ("Resolve errors": exponential backoff on 429 and 5xx).
 */
export function unavailableWaitMs(answers: number, retryAfterMs: number | null, random = Math.random): number {
  return Math.max(retryAfterMs ?? 0, backoffMs(answers, 1_000, 60_000, random));
}

type PdfRef = NonNullable<ReturnType<typeof pdfAttachment>>;

/** The mail's PDF worth storing, if any. */
function pdfOf(mail: ReturnType<typeof parseGmailMessage>): { pdf?: PdfRef } {
  const pdf = pdfAttachment(mail);
  return pdf && pdf.size <= MAX_ATTACHMENT_BYTES ? { pdf } : {};
}

const SyncParams = z.looseObject({
  /** An explicit full resync: also brings back receipts "delete all" removed. */
  full: z.boolean().default(false),
  /** Queued by the scheduler (GMAIL_SYNC_EVERY_MS), not by a person. */
  periodic: z.boolean().optional(),
});

const Counts = z.object({
  imported: z.number().int().nonnegative(),
  already: z.number().int().nonnegative(),
  skipped: z.record(z.string(), z.number().int().nonnegative()),
});

/**
 * Where a sync is. `full`: users.messages.list over the receipt query, `from` = the mailbox's
 * historyId read before the first page (stored when the last page is done, so mail that arrives
 * meanwhile is the next incremental sync's). `incremental`: users.history.list from the stored
 * historyId. `page_token` is the next page of either.
 */
const Checkpoint = z.object({
  mode: z.enum(['full', 'incremental']),
  from: z.string().nullable(),
  page_token: z.string().nullable(),
  /** The stored history had expired (404): this full sync replaced an incremental one. */
  fell_back: z.boolean(),
  counts: Counts,
  /** Gmail's 429 / 5xx answers in a row (reset by a page read): how long the next wait is. */
  unavailable: z.number().int().nonnegative().default(0),
});
type Checkpoint = z.infer<typeof Checkpoint>;

export interface SyncDeps {
  /** Outside the batch transaction: a grant found revoked is recorded even though the batch rolls back. */
  pool: pg.Pool;
  box: () => SecretBox;
  google: () => GoogleSettings;
  syncEveryMs: number;
}

/** Runs `f` over `items`, at most `limit` at a time, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await f(items[i] as T);
  }));
  return out;
}

/**
 * `sync_gmail_receipts`: one Gmail page per batch. The first sync (and an explicit full one)
 * lists the last 12 months of receipt-looking mail; later ones read the mailbox's history since
 * the stored historyId, and an expired history (404) turns the job into a full sync. Messages
 * that already have a receipt (or whose receipt "delete all" removed) are not read again; each
 * receipt is inserted ON CONFLICT DO NOTHING on (business, message id), so a crash and a rerun
 * never make two. A revoked grant marks the connection `reauth_required` and fails the job at
 * once (no retries). Gmail's 429 and 5xx hand the job back with its checkpoint for Gmail's
 * Retry-After (at least an exponential backoff), a few times, then fail the batch like any
 * other; every Gmail call is paced to the mailbox's quota (src/providers/google/quota.ts).
 */
export function syncGmailJob(deps: SyncDeps) {
  // One client per job while a worker holds it: its access token is reused from batch to batch.
  const clients = new Map<string, Mailbox>();
  const clientFor = (jobId: number, attempt: number, businessId: number, sealed: string): Mailbox => {
    const key = `${jobId}:${attempt}`;
    let client = clients.get(key);
    if (!client) {
      if (clients.size >= 100) clients.delete(clients.keys().next().value ?? '');
      client = mailboxOf(deps.google(), deps.box().open(sealed, GMAIL_REFRESH_TOKEN.context(businessId)));
      clients.set(key, client);
    }
    return client;
  };

  return defineJob({
    type: 'sync_gmail_receipts',
    params: SyncParams,
    batch: async ({ tx, job, params, checkpoint, batchSize }) => {
      const pageSize = Math.max(1, Math.min(PAGE_SIZE, batchSize));
      const businessId = job.business_id;
      const key = `${job.id}:${job.attempts}`;
      const conn = await getConnection(tx, businessId);
      if (!conn) throw new PermanentError(english(msg('gmail.not_connected')));
      if (conn.status !== 'connected') throw new PermanentError(english(msg('gmail.reauth_required')));
      const parsed = Checkpoint.safeParse(checkpoint);
      let cp: Checkpoint = parsed.success
        ? parsed.data
        : {
          mode: params.full || conn.history_id === null ? 'full' : 'incremental',
          from: params.full ? null : conn.history_id,
          page_token: null,
          fell_back: false,
          counts: { imported: 0, already: 0, skipped: {} },
          unavailable: 0,
        };
      const revive = params.full;
      const mailbox = clientFor(job.id, job.attempts, businessId, conn.refresh_token_sealed);
      try {
        let page: { ids: string[]; nextPageToken: string | null; estimate?: number; historyId?: string };
        if (cp.mode === 'full') {
          if (cp.from === null) cp = { ...cp, from: (await mailbox.profile()).historyId };
          page = await mailbox.list(RECEIPT_QUERY, cp.page_token, pageSize);
        } else {
          try {
            page = await mailbox.history(cp.from ?? '0', cp.page_token, pageSize);
          } catch (err) {
            if (!(err instanceof GmailHistoryExpired)) throw err;
            // Gmail no longer keeps that history: list everything again; the unique index and
            // the marks of deleted receipts keep it from importing anything twice.
            return { processed: 0, succeeded: 0, failed: 0, checkpoint: { ...cp, mode: 'full', from: null, page_token: null, fell_back: true }, done: false };
          }
        }

        const known = await knownGmailMessages(tx, businessId, page.ids, revive);
        const todo = page.ids.filter((id) => !known.has(id));
        const messages = await mapLimit(todo, READ_CONCURRENCY, (id) => mailbox.get(id));
        const counts = { imported: cp.counts.imported, already: cp.counts.already + known.size, skipped: { ...cp.counts.skipped } };
        // Every Gmail read of the page (attachments too) before the first write: Gmail busy
        // midway leaves nothing written, so the batch can hand the job back with its checkpoint.
        const found: Array<{ receipt: GmailReceipt; pdf?: PdfRef }> = [];
        for (const message of messages) {
          if (!message?.id) continue;
          const mail = parseGmailMessage(message);
          const extracted = extractReceipt(mail, new Date());
          if (!extracted.ok) {
            counts.skipped[extracted.reason] = (counts.skipped[extracted.reason] ?? 0) + 1;
            continue;
          }
          found.push({ receipt: { gmailMessageId: mail.id, ...extracted.receipt, sender: mail.fromHeader.slice(0, 500), attachment: null }, ...pdfOf(mail) });
        }
        const withFiles = await mapLimit(found, READ_CONCURRENCY, async (f) => {
          const pdf = f.pdf;
          if (!pdf) return f.receipt;
          const bytes = pdf.data !== null ? decodeBase64Url(pdf.data) : pdf.attachmentId ? await mailbox.attachment(f.receipt.gmailMessageId, pdf.attachmentId) : null;
          return bytes ? { ...f.receipt, attachment: { filename: pdf.filename.slice(0, 255), contentType: 'application/pdf', bytes } } : f.receipt;
        });
        let imported = 0;
        for (const receipt of withFiles) {
          const id = await insertGmailReceipt(tx, businessId, receipt, revive);
          if (id === null) counts.already += 1;
          else imported += 1;
        }
        counts.imported += imported;

        const done = page.nextPageToken === null;
        const processed = page.ids.length;
        if (done) {
          const historyId = cp.mode === 'full' ? (cp.from ?? conn.history_id ?? '0') : (page.historyId ?? cp.from ?? '0');
          await recordSyncDone(tx, businessId, historyId, nextSyncAt(businessId, deps.syncEveryMs, Date.now()));
          clients.delete(key);
        }
        const seen = job.processed + processed;
        return {
          processed,
          succeeded: imported,
          failed: 0,
          checkpoint: { ...cp, page_token: page.nextPageToken, counts, unavailable: 0 },
          done,
          total: done ? seen : Math.max(seen + 1, page.estimate ?? 0),
          result: { mode: cp.mode, fell_back: cp.fell_back, imported: counts.imported, already_known: counts.already, skipped: counts.skipped },
        };
      } catch (err) {
        if (err instanceof GoogleGrantError) {
          clients.delete(key);
          await markReauthRequired(deps.pool, businessId, 'gmail.reauth_required');
          throw new PermanentError(english(msg('gmail.reauth_required')));
        }
        if (err instanceof GmailUnavailable) {
          await setLastError(deps.pool, businessId, 'gmail.unavailable');
          const answers = cp.unavailable + 1;
          // Past the limit the batch fails as any other: the engine's backoff and its limit on
          // consecutive failures end a sync Gmail keeps refusing.
          if (answers > MAX_UNAVAILABLE) throw err;
          return {
            processed: 0,
            succeeded: 0,
            failed: 0,
            checkpoint: { ...cp, unavailable: answers },
            done: false,
            snoozeMs: unavailableWaitMs(answers, err.retryAfterMs),
          };
        }
        throw err;
      }
    },
  });
}
