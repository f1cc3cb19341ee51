import { PermanentError } from '../lib/errors.js';

/**
 * Reads a numeric checkpoint field ({offset}, {last_id}, {last_row_no}); 0 before the first
 * batch. A malformed checkpoint cannot be resumed safely, so the job fails instead of guessing.
 */
export function checkpointNumber(checkpoint: unknown, field: string): number {
  if (checkpoint === null || checkpoint === undefined) return 0;
  const value = typeof checkpoint === 'object' ? (checkpoint as Record<string, unknown>)[field] : undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw new PermanentError(`unreadable checkpoint ${JSON.stringify(checkpoint)}: expected {"${field}": n}`);
}

/** The job's id list, which bulk jobs cannot run without. */
export function requireTargets(targets: number[] | null): number[] {
  if (!targets) throw new PermanentError('the job has no target ids');
  return targets;
}

/** Sorted, de-duplicated ids: the job's targets, and its total. */
export function distinctSorted(ids: readonly number[]): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

export interface TargetSlice {
  ids: number[];
  /** The checkpoint to commit with this batch. */
  next: { offset: number };
  done: boolean;
}

/** The next `size` target ids after the checkpoint's offset. Pure. */
export function nextTargets(targets: readonly number[], checkpoint: unknown, size: number): TargetSlice {
  const offset = checkpointNumber(checkpoint, 'offset');
  const ids = targets.slice(offset, offset + size);
  const end = offset + ids.length;
  return { ids, next: { offset: end }, done: end >= targets.length };
}
