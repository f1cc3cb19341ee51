import type pg from 'pg';
import type { z } from 'zod';
import type { Logger } from '../lib/logger.js';

export const JOB_STATUSES = ['queued', 'running', 'paused', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const ACTIVE_STATUSES: readonly JobStatus[] = ['queued', 'running', 'paused'];
const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

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
  /** A pause waits for the holding worker's batch boundary; the job stays `running` meanwhile. */
  pause_requested: boolean;
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

export interface BatchContext<P = unknown> {
  /** The batch transaction: the data change, progress and checkpoint commit together. */
  tx: pg.PoolClient;
  job: ClaimedJob;
  /** The job's params, parsed by its definition's schema once per claim. */
  params: P;
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

export type BatchHandler<P = unknown> = (ctx: BatchContext<P>) => Promise<BatchResult>;

/**
 * A job type as the engine sees it, its params' type erased: the registry holds one list of
 * these. Domains write them with `defineJob`, never by hand, so a handler only ever sees params
 * its schema accepted.
 */
export interface JobHandlerDefinition {
  type: string;
  /** Parses a claimed job's params; a failure fails the job permanently with the schema's message. */
  params: z.ZodType;
  batch: BatchHandler;
  /**
   * Pause between batches; default `JOB_BATCH_PAUSE_MS`. A handler that paces itself against a
   * provider (broadcasts) sets 0: the pause would only be idle time its pacer cannot make up.
   */
  batchPauseMs?: number;
}

export interface JobDefinition<S extends z.ZodType> extends JobHandlerDefinition {
  params: S;
}

/**
 * A job type with typed params (River's JobArgs + Worker[T], graphile-worker's Task<K>): the
 * handler reads `ctx.params` typed by the schema, so a misspelt field is a compile error, and
 * producers type what they enqueue with `JobParams<typeof theJob>`.
 */
export function defineJob<S extends z.ZodType>(def: {
  type: string;
  params: S;
  batch: BatchHandler<z.output<S>>;
  batchPauseMs?: number;
}): JobDefinition<S> {
  return {
    type: def.type,
    params: def.params,
    // The engine parsed ctx.params with def.params before calling (worker.ts), so the cast only
    // restores the type the erasure above removed.
    batch: (ctx) => def.batch(ctx as BatchContext<z.output<S>>),
    ...(def.batchPauseMs === undefined ? {} : { batchPauseMs: def.batchPauseMs }),
  };
}

/** What a producer puts in a job's params (the schema's input). */
export type JobParams<D extends JobHandlerDefinition> = z.input<D['params']>;
