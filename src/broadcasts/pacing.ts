import type pg from 'pg';
import { withTx } from '../db/pool.js';

/**
 * Pacing: every worker sending for one sender number shares its throughput (80 msg/s on the
 * Cloud API by default, counted by the provider over a sliding second). The shared state is ONE
 * row per phone_number_id: the slots reserved within the last window and a GCRA "theoretical
 * arrival time"; a worker reserves a wave of k slots in one short transaction and learns when
 * each of its messages may go.
 *
 * A new slot is the earliest time that satisfies three rules:
 * - the provider's own: the last window holds fewer than `limit` slots (applied ahead of time);
 * - a schedule (GCRA's theoretical arrival time `tat`): one slot per `window / limit`; a sender
 *   that fell behind it by up to CATCH_UP_MS (the engine's pause between batches, a commit) makes
 *   that time up, idle time beyond it is lost, so a long pause never turns into a burst;
 * - slots stay at least half an interval apart: catching up is twice the rate, not a burst.
 *
 * Alternatives measured (bench/broadcasts.ts, docs/BENCHMARKS.md "WhatsApp broadcasts"):
 * - GCRA alone (one "next slot" timestamp): exact spacing, but without a tolerance the time lost
 *   between two batches is lost for good (~80 % of the cap); with a tolerance alone, a catch-up
 *   burst followed by a full second of spaced sends is 120 % of the cap in that second.
 * - the window rule alone: exact, but from an empty window it sends a whole window at twice the
 *   rate and then waits; the window rule then replays that bunching every second and a batch
 *   pause that falls into it is lost (~80 % in the model of test/broadcasts/pure.test.ts).
 * - per-second counters (`INSERT … ON CONFLICT (number, second) DO UPDATE SET n = n + k`): every
 *   worker fires its share at the start of each second; a boundary straddling window sees 2×.
 * - an in-process limiter: correct only with one worker process.
 *
 * Slots are multiples of 1/1024 ms, so `slot + window - slot` is exact in float arithmetic and a
 * slot placed exactly one window after another never lands a rounding error inside it.
 *
 * Headroom: the provider counts arrivals, which jitter by a few ms around our slots. The window
 * we keep is JITTER_MARGIN_MS longer than a second and holds 1 % fewer slots than the cap.
 */
export const PACING_HEADROOM = 0.99;
const WINDOW_MS = 1_000;
export const JITTER_MARGIN_MS = 15;
export const CATCH_UP_MS = 250;

export function slotLimit(mps: number): number {
  return Math.max(1, Math.floor(mps * PACING_HEADROOM));
}

export interface PacingState {
  /** Recent slots, epoch ms, ascending (at most `limit`). */
  history: number[];
  /** GCRA theoretical arrival time of the next slot, epoch ms; null when never used. */
  tat: number | null;
}

export interface SlotPlan extends PacingState {
  /** The new slots, epoch ms, ascending. */
  slots: number[];
}

const TICK = 1024;
const onTick = (t: number): number => Math.ceil(t * TICK) / TICK;

/**
 * Schedules `count` sends after `state` so that no window of `windowMs` holds more than `limit`
 * of them and the average rate is `limit / windowMs`. Pure.
 */
export function scheduleSlots(state: PacingState, now: number, count: number, limit: number, windowMs: number, catchUpMs = CATCH_UP_MS): SlotPlan {
  const all = state.history.filter((t) => t > now - windowMs * 2).slice(-limit);
  const interval = windowMs / limit;
  let tat = Math.max(state.tat ?? now, now - catchUpMs);
  const slots: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const last = all.at(-1);
    let t = Math.max(now, tat);
    if (all.length >= limit) t = Math.max(t, (all[all.length - limit] ?? now) + windowMs);
    if (last !== undefined) t = Math.max(t, last + interval / 2);
    t = onTick(t);
    tat = Math.max(tat, t - catchUpMs) + interval;
    all.push(t);
    slots.push(t);
  }
  return { slots, history: all.slice(-limit), tat };
}

/** Reserves `count` slots for this sender; answers the delay before each, in ms from now. */
export async function reserveSlots(pool: pg.Pool, phoneNumberId: string, count: number, mps: number): Promise<number[]> {
  const limit = slotLimit(mps);
  return withTx(pool, async (tx) => {
    // The upsert locks the row; RETURNING runs after the lock, so `now` is the time we hold it.
    const { rows } = await tx.query<{ slots: number[]; tat_ms: number | null; now_ms: number | string }>({
      name: 'bulkhead_wa_pacing_lock',
      text: `INSERT INTO whatsapp_pacing AS p (phone_number_id) VALUES ($1)
             ON CONFLICT (phone_number_id) DO UPDATE SET slots = p.slots
             RETURNING slots, tat_ms, extract(epoch FROM clock_timestamp()) * 1000 AS now_ms`,
      values: [phoneNumberId],
    });
    const now = Number(rows[0]?.now_ms ?? Date.now());
    const state = { history: rows[0]?.slots ?? [], tat: rows[0]?.tat_ms ?? null };
    const plan = scheduleSlots(state, now, count, limit, WINDOW_MS + JITTER_MARGIN_MS);
    await tx.query({
      name: 'bulkhead_wa_pacing_save',
      text: `UPDATE whatsapp_pacing SET slots = $2::float8[], tat_ms = $3 WHERE phone_number_id = $1`,
      values: [phoneNumberId, plan.history, plan.tat],
    });
    return plan.slots.map((t) => Math.max(0, t - now));
  });
}

/**
 * The provider said "too fast" (130429): our configured rate is evidently above the real one
 * (another app on the number, a lower tier). Every worker on this number then waits `ms` before
 * its next slot: the window history is filled as if a full window had just been sent, and the
 * schedule restarts after it (the penalty is not "caught up").
 */
export async function penalize(pool: pg.Pool, phoneNumberId: string, ms: number, mps: number): Promise<void> {
  await pool.query(
    `UPDATE whatsapp_pacing
        SET slots = array_fill((extract(epoch FROM clock_timestamp()) * 1000 + $2::float8 - $3::float8)::float8, ARRAY[$4::int]),
            tat_ms = extract(epoch FROM clock_timestamp()) * 1000 + $2::float8
      WHERE phone_number_id = $1`,
    [phoneNumberId, ms, WINDOW_MS + JITTER_MARGIN_MS, slotLimit(mps)],
  );
}
