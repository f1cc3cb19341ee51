import { z } from 'zod';
import { Int, Timestamp } from './common.js';

export const JOB_STATUSES = ['queued', 'running', 'paused', 'completed', 'failed', 'cancelled'] as const;
export const JobStatus = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof JobStatus>;

export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];
export const isTerminalStatus = (status: JobStatus): boolean => TERMINAL_JOB_STATUSES.includes(status);

/** A job (API.md "Jobs"); also the data of each `progress` event of `/jobs/{id}/events`. */
export const Job = z.object({
  id: Int,
  type: z.string().describe('the operation, e.g. delete_leads_bulk, import_leads'),
  status: JobStatus,
  queue: z.string(),
  total: Int,
  processed: Int,
  succeeded: Int,
  failed: Int,
  progress: z.number().min(0).max(1).describe('processed / total'),
  params: z.record(z.string(), z.unknown()).describe('the public parameters of the operation'),
  created_by: Int.nullable(),
  created_at: Timestamp,
  started_at: Timestamp.nullable(),
  heartbeat_at: Timestamp.nullable(),
  finished_at: Timestamp.nullable(),
  last_error: z.string().nullable(),
  result: z.record(z.string(), z.unknown()).nullable().describe('what the operation reports when it ends'),
  cancel_requested: z.boolean().describe('a cancel waits for the next batch boundary'),
  pause_requested: z.boolean().describe('a pause waits for the next batch boundary: the job stays running until then, and once paused nothing about it changes until it is resumed'),
  attempts: Int,
  run_at: Timestamp,
}).describe('A job (API.md "Jobs")');
export type Job = z.infer<typeof Job>;

/**
 * 202 for accepted work (with `Location: /api/v1/jobs/{job_id}`): the job, plus what the
 * operation created with it (`import_id`, `run_id`, `broadcast_id` …). An Idempotency-Key replay
 * answers the stored body again.
 */
export const Accepted = z
  .looseObject({
    job_id: Int,
    status: JobStatus,
    type: z.string().optional(),
    import_id: Int.optional(),
    run_id: Int.optional(),
    leads: Int.optional().describe('run: the ids that are leads of the business'),
    not_found: Int.optional().describe('run: the ids that are not'),
    broadcast_id: Int.optional(),
    recipients: Int.optional(),
    skipped: Int.optional(),
    duplicates: Int.optional(),
  })
  .describe('Accepted: the job that does the work');
export type Accepted = z.infer<typeof Accepted>;
