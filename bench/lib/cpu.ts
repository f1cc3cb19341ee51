/**
 * CPU accounting from /proc: how busy the whole machine was during a measurement, and how much
 * of it one process used. On a 2-core machine shared by the service, PostgreSQL and the load
 * generator, "the machine was saturated" is often the explanation a number needs.
 */
import fs from 'node:fs/promises';

// /proc reports times in clock ticks of 1/100 s (sysconf(_SC_CLK_TCK) is 100 on mainstream
// Linux; Node offers no way to ask).
const CLOCK_TICKS_PER_S = 100;

/** CPU time (user + system) a process has used so far, in milliseconds; null once it is gone. */
export async function processCpuMs(pid: number): Promise<number | null> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    // After "(comm) ": state is field 3, utime field 14 and stime field 15 (1-based).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_S : null;
  } catch {
    return null;
  }
}

export interface MachineCpu {
  busy: number;
  total: number;
}

/** The first line of /proc/stat: jiffies spent busy and in total, over all cores. */
export async function machineCpu(): Promise<MachineCpu> {
  const line = (await fs.readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((sum, x) => sum + x, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/** Share of all cores that was busy between two snapshots (0..1). */
export function busyShare(before: MachineCpu, after: MachineCpu): number {
  const total = after.total - before.total;
  return total > 0 ? (after.busy - before.busy) / total : 0;
}
