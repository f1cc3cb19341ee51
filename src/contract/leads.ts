import { z } from 'zod';
import { Int, Timestamp } from './common.js';

/** A lead (API.md "Leads"); the phone is E.164. */
export const Lead = z.object({
  id: Int,
  name: z.string().nullable(),
  phone: z.string(),
  email: z.string().nullable(),
  status: z.string(),
  tags: z.array(z.string()),
  source: z.enum(['manual', 'import']),
  import_id: Int.nullable(),
  owner_user_id: Int.nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
}).describe('A lead');
export type Lead = z.infer<typeof Lead>;

export const LeadDetail = Lead.extend({
  counts: z.object({ notes: Int, activities: Int, reminders: Int }),
}).describe('A lead with the counts of its notes, activities and reminders');
export type LeadDetail = z.infer<typeof LeadDetail>;

export const Note = z.object({
  id: Int,
  lead_id: Int,
  text: z.string(),
  created_by: Int.nullable(),
  created_at: Timestamp,
}).describe('A note');
export type Note = z.infer<typeof Note>;

export const Activity = Note.extend({ type: z.string() }).describe('An activity');
export type Activity = z.infer<typeof Activity>;

export const Reminder = Note.extend({ due_at: Timestamp }).describe('A reminder');
export type Reminder = z.infer<typeof Reminder>;

/** An import (`GET /imports/{id}`): counts so far and the first 1000 invalid rows. */
export const Import = z.object({
  id: Int,
  job_id: Int.nullable(),
  filename: z.string().nullable(),
  status: z.string(),
  total: Int,
  inserted: Int,
  duplicates: Int,
  invalid: Int,
  errors: z.array(z.object({ row: Int.describe('1-based data row (the CSV header is not counted)'), message: z.string() })),
  created_at: Timestamp,
}).describe('An import: counts so far and the first 1000 invalid rows');
export type Import = z.infer<typeof Import>;
