/**
 * Calling hours: a daily window of wall-clock time in the business's time zone. Items wait
 * outside it. Pure functions over an injected `now`.
 */
export interface CallingWindow {
  /** Minutes after local midnight, 0..1440. */
  startMin: number;
  endMin: number;
}

export function parseHours(spec: string): CallingWindow {
  const m = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(spec);
  if (!m) throw new Error(`calling hours "${spec}" must look like 08:00-21:00`);
  const [, h1, m1, h2, m2] = m.map(Number) as [number, number, number, number, number];
  return { startMin: h1 * 60 + m1, endMin: h2 * 60 + m2 };
}

export function timeToMinutes(t: string): number {
  const [h = '0', m = '0'] = t.split(':');
  return Number(h) * 60 + Number(m);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Minutes after midnight (with fractions) at `now` in `timeZone`; unknown zones count as UTC. */
function localMinutes(now: Date, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    } catch {
      f = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    }
    formatters.set(timeZone, f);
  }
  let h = 0;
  let m = 0;
  let s = 0;
  for (const p of f.formatToParts(now)) {
    if (p.type === 'hour') h = Number(p.value);
    else if (p.type === 'minute') m = Number(p.value);
    else if (p.type === 'second') s = Number(p.value);
  }
  return h * 60 + m + s / 60;
}

/**
 * Open or not at `now`; when closed, how long until it opens. A window whose end is before its
 * start crosses midnight (22:00-06:00); 00:00-24:00 is always open; equal start and end never.
 */
export function callingWindowState(now: Date, timeZone: string, w: CallingWindow): { open: boolean; opensInMs: number } {
  const t = localMinutes(now, timeZone);
  const inside = w.startMin <= w.endMin ? t >= w.startMin && t < w.endMin : t >= w.startMin || t < w.endMin;
  if (inside) return { open: true, opensInMs: 0 };
  if (w.startMin === w.endMin) return { open: false, opensInMs: 24 * 3_600_000 };
  const minutes = (w.startMin - t + 1440) % 1440;
  return { open: false, opensInMs: Math.max(1_000, Math.round(minutes * 60_000)) };
}

/**
 * Milliseconds from `now` to the next time the wall clock in `timeZone` reads `min` minutes after
 * midnight, strictly later (exactly at it: a day later). Like callingWindowState it counts wall
 * minutes, so across a daylight-saving change it lands an hour early or late; the claim still
 * checks the window when the item comes due.
 */
export function untilLocalTimeMs(now: Date, timeZone: string, min: number): number {
  const minutes = (min - localMinutes(now, timeZone) + 1440) % 1440;
  return Math.round((minutes === 0 ? 1440 : minutes) * 60_000);
}
