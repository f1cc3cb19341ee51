import { z } from 'zod';
import { Int, Timestamp } from './common.js';

/** A lead in the trash (`GET /trash/leads`): what a bulk delete moved there, with its children. */
export const TrashedLead = z.object({
  lead_id: Int.describe('the id the lead had, and gets back when restored'),
  phone: z.string(),
  name: z.string().nullable(),
  deleted_at: Timestamp,
  deleted_by_job_id: Int.describe('the delete_leads_bulk or delete_imported_leads job that moved it here'),
  counts: z.object({ notes: Int, activities: Int, reminders: Int }).describe('the children kept with it'),
}).describe('A lead in the trash');
export type TrashedLead = z.infer<typeof TrashedLead>;

/**
 * One lead a `restore_leads` job could not put back, as listed in its `result.failures` (the
 * first 100; `result.failed_by_reason` counts them all).
 */
export const RestoreFailure = z.object({
  lead_id: Int,
  reason: z.enum(['phone_taken', 'not_in_trash', 'conflict']).describe('phone_taken: another lead has its phone now (the lead stays in the trash)'),
  message: z.string(),
  conflicting_lead_id: Int.nullable().describe('phone_taken: the lead that has the phone'),
}).describe('A lead a restore could not put back');
export type RestoreFailure = z.infer<typeof RestoreFailure>;
