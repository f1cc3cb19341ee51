/**
 * How many calls a business may start now: its free slots (limit − active, counting every
 * active call of the business, runs and direct calls alike), and within that each run's own
 * concurrency.
 */
export function freeSlots(active: number, limit: number, runConcurrency?: { active: number; concurrency: number }): number {
  const business = Math.max(0, limit - active);
  if (!runConcurrency) return business;
  return Math.min(business, Math.max(0, runConcurrency.concurrency - runConcurrency.active));
}

export interface RunCandidates<T> {
  runId: number;
  /** This run's free slots (its concurrency minus its active calls). */
  free: number;
  /** Due items, in the order they should be called. */
  items: T[];
}

/**
 * Fills `slots` round-robin across runs — one item from each run in turn, in the order given
 * (the run that dialled longest ago first) — so a big run cannot starve a small one. Items with
 * the same `key` (one lead in two runs) are picked once: a lead is never in two calls at once.
 */
export function pickRoundRobin<T>(runs: ReadonlyArray<RunCandidates<T>>, slots: number, key: (item: T) => unknown = (item) => item): T[] {
  const picked: T[] = [];
  const keys = new Set<unknown>();
  const taken = runs.map(() => 0);
  const cursor = runs.map(() => 0);
  let progress = true;
  while (picked.length < slots && progress) {
    progress = false;
    runs.forEach((run, i) => {
      if (picked.length >= slots || (taken[i] ?? 0) >= run.free) return;
      for (let c = cursor[i] ?? 0; c < run.items.length; c++) {
        const item = run.items[c];
        if (item === undefined || keys.has(key(item))) continue;
        keys.add(key(item));
        picked.push(item);
        taken[i] = (taken[i] ?? 0) + 1;
        cursor[i] = c + 1;
        progress = true;
        return;
      }
      cursor[i] = run.items.length;
    });
  }
  return picked;
}

/**
 * Which listening dialer refills a business when a NOTIFY says its slot may be free: the one at
 * index `businessId mod n` of the dialers' LISTEN sessions (backend pids, ascending). `unknown`
 * when this dialer is not in the list (not yet listed, or behind a pooler that hides its pid):
 * then it acts anyway, and the slot lock keeps two dialers' claims apart.
 */
export function notifyOwner(businessId: number, peers: readonly number[], me: number | null): 'me' | 'other' | 'unknown' {
  if (me === null || !peers.includes(me)) return 'unknown';
  return peers[businessId % peers.length] === me ? 'me' : 'other';
}
