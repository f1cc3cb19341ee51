import type pg from 'pg';
import type { Logger } from '../lib/logger.js';

export const JOB_STATUSES = ['queued', 'running', 'paused', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const ACTIVE_STATUSES: readonly JobStatus[] = ['queued', 'running', 'paused'];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** A job row as stored (the `targets` id list is never part of it; see ClaimedJob). */
export interface JobRow {
  id: number;
  business_id: number;
  type: string;
  queue: string;
  priority: number;
  status: JobStatus;
  params: Record<string, unknown>;
  params_hash: string;
  lock_key: string | null;
  total: number;
  processed: number;
  succeeded: number;
  failed: number;
  checkpoint: unknown;
  result: Record<string, unknown> | null;
  last_error: string | null;
  attempts: number;
  consecutive_failures: number;
  cancel_requested: boolean;
  run_at: Date;
  locked_by: string | null;
  locked_at: Date | null;
  created_by: number | null;
  created_at: Date;
  started_at: Date | null;
  heartbeat_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

/** A job this worker holds: fenced by (locked_by, attempts). */
export interface ClaimedJob extends JobRow {
  locked_by: string;
  /** The job's id list (lead ids …), loaded once per claim; null when the job has none. */
  targets: number[] | null;
}

export interface BatchContext {
  /** The batch transaction: the data change, progress and checkpoint commit together. */
  tx: pg.PoolClient;
  job: ClaimedJob;
  /** The checkpoint as committed by the previous batch (null before the first). */
  checkpoint: unknown;
  batchSize: number;
  log: Logger;
  signal: AbortSignal;
}

export interface BatchResult {
  processed: number;
  succeeded: number;
  failed: number;
  checkpoint: unknown;
  /** Nothing remains: the job completes in this same transaction. */
  done: boolean;
  /** Replaces the job's total (e.g. when the handler learns the real size). */
  total?: number;
  /** Merged into the job's result. */
  result?: Record<string, unknown>;
  /** Nothing to do right now: hand the job back and try again after this many ms. */
  snoozeMs?: number;
}

export type BatchHandler = (ctx: BatchContext) => Promise<BatchResult>;

export interface JobHandlerDefinition {
  type: string;
  batch: BatchHandler;
  /**
   * Pause between batches; default `JOB_BATCH_PAUSE_MS`. A handler that paces itself against a
   * provider (broadcasts) sets 0: the pause would only be idle time its pacer cannot make up.
   */
  batchPauseMs?: number;
}
