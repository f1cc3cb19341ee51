/*
 * A worker's slots shared between businesses (README "Fair share between businesses"). The claim
 * (sql/claim.ts) decides who starts; this decides when a running job hands its slot back at a
 * batch boundary: one business's long jobs filled every slot while nobody else had work, and now
 * another business waits. Pure, apart from FairShareCheck's cached query.
 */

/** The most slots of one worker a business keeps while another business has due jobs (≥ 1). */
export function shareSlots(concurrency: number, share: number): number {
  return Math.max(1, Math.floor(concurrency * share + 1e-9));
}

/** How many slots each business holds, from the business of every held job. */
export function slotsByBusiness(heldBusinesses: Iterable<number>): Map<number, number> {
  const counts = new Map<number, number>();
  for (const b of heldBusinesses) counts.set(b, (counts.get(b) ?? 0) + 1);
  return counts;
}

/** Businesses at (or past) their share: a slot handed back would not go to them. */
export function businessesAtShare(counts: ReadonlyMap<number, number>, slots: number): number[] {
  return [...counts].filter(([, n]) => n >= slots).map(([b]) => b).sort((a, b) => a - b);
}

export interface YieldState {
  concurrency: number;
  /** Slots held per business, the job asking included. */
  counts: ReadonlyMap<number, number>;
  /** The asking job's business and priority. */
  businessId: number;
  priority: number;
  slots: number;
}

/**
 * Whether it is worth asking the database if someone waits: the worker is full (a free slot is
 * filled by the claim anyway) and this job's business holds more than its share.
 */
export function mayOweSlot(s: YieldState): boolean {
  let held = 0;
  for (const n of s.counts.values()) held += n;
  return held >= s.concurrency && (s.counts.get(s.businessId) ?? 0) > s.slots;
}

/**
 * The job hands its slot back when, besides the above, a business under its share has a due job
 * of at least this job's priority (`waiting`: the highest such priority, null: none). A lower
 * priority would not win the claim over this job, which would only be claimed again.
 */
export function shouldYield(s: YieldState, waiting: number | null): boolean {
  return mayOweSlot(s) && waiting !== null && waiting >= s.priority;
}

/**
 * The answer to "which priority waits among businesses under their share", shared by every job of
 * the worker for a while: asked at most every `minAgeMs`, and again at the next boundary after
 * `maxAgeMs` or after `invalidate()` (a NOTIFY that a job was queued); `forget()` (this worker's
 * own claim) drops the answer at once.
 * One query at a time; callers asking meanwhile share it.
 */
export class FairShareCheck {
  #key = '';
  #value: number | null = null;
  #at = -Infinity;
  #stale = true;
  #inflight: Promise<number | null> | null = null;

  constructor(
    private readonly query: (excluded: number[]) => Promise<number | null>,
    private readonly opts: { minAgeMs: number; maxAgeMs: number; now?: () => number },
  ) {}

  /** Something was queued: ask again at the next boundary (once the minimum age has passed). */
  invalidate(): void {
    this.#stale = true;
  }

  /** This worker's own claim changed what waits: the cached answer is wrong now, ask again at once. */
  forget(): void {
    this.#stale = true;
    this.#at = -Infinity;
  }

  async waitingPriority(excluded: number[]): Promise<number | null> {
    const now = this.opts.now?.() ?? Date.now();
    const key = excluded.join(',');
    const age = now - this.#at;
    const fresh = key === this.#key && (age < this.opts.minAgeMs || (!this.#stale && age < this.opts.maxAgeMs));
    if (fresh) return this.#value;
    if (this.#inflight) return this.#inflight;
    this.#stale = false;
    this.#inflight = this.query(excluded)
      .then((value) => {
        this.#key = key;
        this.#value = value;
        this.#at = this.opts.now?.() ?? Date.now();
        return value;
      })
      .finally(() => {
        this.#inflight = null;
      });
    return this.#inflight;
  }
}
