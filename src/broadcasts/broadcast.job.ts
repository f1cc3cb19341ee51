import type pg from 'pg';
import { z } from 'zod';
import { defineJob } from '../jobs/types.js';
import { sleep } from '../lib/abortable.js';
import { PermanentError } from '../lib/errors.js';
import { maskPhone, type Logger } from '../lib/logger.js';
import type { MessageContent, WhatsAppProvider } from '../providers/whatsapp/types.js';
import { getBroadcastByJob } from './broadcasts.repo.js';
import { callbackDataFor } from './callback-data.js';
import { applyMatchedPendingStatuses, applyPendingStatuses } from './delivery.repo.js';
import { penalize, reserveSlots } from './pacing.js';
import { decideOutcome, notSentOutcome, type RecipientOutcome } from './send-outcome.js';
import { claimWave, hasDueRecipients, markSendStarted, progressOf, recordOutcomes, reconcileOrphans, type ClaimedRecipient } from './send.repo.js';

export interface BroadcastJobDeps {
  pool: pg.Pool;
  /**
   * The Cloud API as the broadcast's sender: its number with its business's token (or the
   * deployment's number and token). Throws PermanentError when that number is no longer the
   * business's sender. The process starts modules before it claims a job.
   */
  providerFor: (businessId: number, phoneNumberId: string) => Promise<WhatsAppProvider>;
  /** Sends per second per sender number, shared by all workers. */
  mps: number;
}

/**
 * A batch sends for about this long. The broadcast's batch is a slice of time, not a row
 * count: the provider's limit is per second, and pause/cancel (honoured at batch boundaries)
 * take effect within one batch (~2 s) whatever the rate.
 */
const BATCH_MS = 2_000;
/**
 * Recipients are marked `sending` one wave (~100 ms of sends) ahead of their slots, not a whole
 * batch ahead. Each send is then marked started just before its call (markSendStarted): a kill -9
 * leaves only the sends in flight as "outcome unknown" (their webhooks can still settle them);
 * the rest of the wave is queued again.
 */
const WAVE_MS = 100;
/** A wave is claimed this long before its first slot (the claim's own round trip). */
const CLAIM_LEAD_MS = 10;
/** After a 130429, every worker on the number holds its next reservation this long. */
const THROUGHPUT_PENALTY_MS = 250;

/**
 * `broadcast_whatsapp`: one batch = for ~BATCH_MS, reserve a wave of pacing slots, claim that many
 * recipients (committed `sending`) just before the first slot, fire each send at its slot (marked
 * started first) and record each outcome as soon as it arrives; the next wave is reserved and claimed while
 * the previous one is still going out, so the sender stays busy across waves.
 * Progress and completion are recounted from the recipient rows (the source of truth).
 */
const BroadcastParams = z.looseObject({
  message_type: z.enum(['text', 'template']),
  template: z.string().optional(),
  recipient_count: z.number().int().nonnegative(),
});

export function broadcastJob(deps: BroadcastJobDeps) {
  return defineJob({
    type: 'broadcast_whatsapp',
    params: BroadcastParams,
    // The pacer spaces the sends; an engine pause between batches would be idle time on the number.
    batchPauseMs: 0,
    batch: async ({ tx, job, signal, log }) => {
      const broadcast = await getBroadcastByJob(deps.pool, job.business_id, job.id);
      if (!broadcast) throw new PermanentError(`job ${job.id} has no WhatsApp broadcast`);
      const provider = await deps.providerFor(job.business_id, broadcast.phone_number_id);
      const orphans = await reconcileOrphans(deps.pool, job.business_id, broadcast.id);
      await applyMatchedPendingStatuses(deps.pool);
      if (orphans.unknown + orphans.requeued > 0) {
        log.warn({ event: 'BROADCAST_ORPHANS', broadcastId: broadcast.id, ...orphans }, 'recipients left sending by an unfinished batch: started ones unknown (not resent), unstarted ones queued again');
      }

      const run = await sendForAWhile({
        pool: deps.pool,
        provider,
        mps: deps.mps,
        log,
        signal,
        businessId: job.business_id,
        broadcastId: broadcast.id,
        phoneNumberId: broadcast.phone_number_id,
        content: broadcast.message,
        jobId: job.id,
        workerId: job.locked_by,
        claim: job.attempts,
      });
      if (run.stop) throw new PermanentError(run.stop);

      const { counts, nextDueInMs } = await progressOf(tx, job.business_id, broadcast.id);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      const settled = total - counts.queued - counts.sending;
      const succeeded = counts.sent + counts.delivered + counts.read;
      const done = counts.queued === 0 && counts.sending === 0;
      const idle = run.claimed === 0 && !done;
      return {
        processed: settled - job.processed,
        succeeded: succeeded - job.succeeded,
        failed: counts.failed - job.failed,
        checkpoint: { sent_in_last_batch: run.sent },
        total,
        done,
        result: { counts },
        // Nothing was due (only retries waiting): hand the job back until the first one is.
        ...(idle ? { snoozeMs: Math.max(50, Math.ceil(nextDueInMs ?? 100)) } : {}),
      };
    },
  });
}

interface SendRun {
  pool: pg.Pool;
  provider: WhatsAppProvider;
  mps: number;
  log: Logger;
  signal: AbortSignal;
  businessId: number;
  broadcastId: number;
  phoneNumberId: string;
  content: MessageContent;
  jobId: number;
  workerId: string;
  claim: number;
}

async function sendForAWhile(r: SendRun): Promise<{ claimed: number; sent: number; stop: string | null }> {
  const waveSize = Math.max(1, Math.min(200, Math.ceil((r.mps * WAVE_MS) / 1000)));
  const ends = Date.now() + BATCH_MS;
  const waves: Promise<void>[] = [];
  const state = { stop: null as string | null, sent: 0, throughput: false };
  let claimed = 0;
  // Only retries waiting (or nothing left): reserve no slots, which other broadcasts can use.
  if (!(await hasDueRecipients(r.pool, r.businessId, r.broadcastId))) return { claimed, sent: 0, stop: null };
  let settled: PromiseSettledResult<void>[] = [];
  // try/finally: when the loop itself fails (the database restarting under reserveSlots or
  // claimWave), the waves already sending still settle here and record what they can. A wave's
  // rejection left unhandled killed the worker process (chaos suite, "PostgreSQL restart").
  try {
    while (!r.signal.aborted && state.stop === null && Date.now() < ends) {
      if (state.throughput) {
        state.throughput = false;
        await penalize(r.pool, r.phoneNumberId, THROUGHPUT_PENALTY_MS, r.mps);
      }
      // Slots first, rows second: recipients are marked `sending` only when their slots are near
      // (a penalty or another worker's reservations can put them seconds away).
      const delays = await reserveSlots(r.pool, r.phoneNumberId, waveSize, r.mps);
      const reservedAt = Date.now();
      const lead = (delays[0] ?? 0) - (Date.now() - reservedAt) - CLAIM_LEAD_MS;
      if (lead > 0) await sleep(lead, r.signal);
      if (r.signal.aborted) break;
      const rows = await claimWave(r.pool, {
        businessId: r.businessId, broadcastId: r.broadcastId, jobId: r.jobId, workerId: r.workerId, claim: r.claim, limit: waveSize,
      });
      if (rows.length === 0) break;
      claimed += rows.length;
      const sendable = rows.filter((row) => row.status === 'sending');
      if (sendable.length > 0) {
        const wave = sendWave(r, sendable, delays.slice(0, sendable.length), reservedAt, state);
        // Handled now, reported by allSettled below: a wave that fails while the loop still
        // waits for the next slot would otherwise be an unhandled rejection (process exit).
        wave.catch(() => undefined);
        waves.push(wave);
      }
    }
  } finally {
    // allSettled: every wave records its outcomes even when another's write failed.
    settled = await Promise.allSettled(waves);
  }
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  if (state.throughput) await penalize(r.pool, r.phoneNumberId, THROUGHPUT_PENALTY_MS, r.mps);
  return { claimed, sent: state.sent, stop: state.stop };
}

/**
 * One send: marked started (committed) first, then the provider call, then its outcome recorded
 * at once — a kill -9 leaves unknown only the sends whose answer had not been written yet (most
 * of those the provider accepted, and their status webhooks name the recipient). Null when the
 * row is no longer this holder's to send (see markSendStarted).
 */
async function sendOne(r: SendRun, row: ClaimedRecipient, state: { stop: string | null; sent: number; throughput: boolean }): Promise<RecipientOutcome | null> {
  if (!(await markSendStarted(r.pool, r.businessId, row.id, r.claim))) return null;
  // The callback data names the recipient in every status webhook of this message: if this
  // process dies before recordOutcomes, the webhook still finds the row (delivery.repo.ts).
  const callbackData = callbackDataFor({ businessId: r.businessId, broadcastId: r.broadcastId, recipientId: row.id });
  const result = await r.provider.send({ to: row.phone, content: r.content, callbackData }).catch((err: unknown) => ({
    ok: false as const, httpStatus: null, network: 'unknown' as const, detail: String(err),
  }));
  const decision = decideOutcome(row.id, row.attempts, result);
  if (decision.stop !== null && state.stop === null) state.stop = decision.stop;
  if (decision.throughput) state.throughput = true;
  if (decision.outcome.status === 'sent') state.sent += 1;
  else r.log.debug({ to: maskPhone(row.phone), outcome: decision.outcome.status, reason: decision.outcome.reason }, 'send refused');
  await recordOutcomes(r.pool, r.businessId, [decision.outcome]);
  return decision.outcome;
}

async function sendWave(
  r: SendRun,
  rows: readonly ClaimedRecipient[],
  delays: readonly number[],
  started: number,
  state: { stop: string | null; sent: number; throughput: boolean },
): Promise<void> {
  // One timer walks the wave's slots; each send starts at its slot, runs concurrently and records
  // its own outcome.
  const sends: Promise<RecipientOutcome | null>[] = [];
  const notSent: RecipientOutcome[] = [];
  for (const [i, row] of rows.entries()) {
    const wait = (delays[i] ?? 0) - (Date.now() - started);
    if (wait > 0) await sleep(wait, r.signal);
    // Not called yet: stopping (SIGTERM) or a stopped broadcast puts it back, a resend is safe.
    if (r.signal.aborted || state.stop !== null) {
      notSent.push(notSentOutcome(row.id));
      continue;
    }
    sends.push(sendOne(r, row, state));
  }
  // allSettled: a failed write of one send does not leave the others' running unobserved.
  const settled = await Promise.allSettled(sends);
  await recordOutcomes(r.pool, r.businessId, notSent);
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  const ids = settled.flatMap((s) => (s.status === 'fulfilled' && s.value?.messageId ? [s.value.messageId] : []));
  await applyPendingStatuses(r.pool, ids);
}
