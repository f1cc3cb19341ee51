import { z } from 'zod';
import { IsoInstant } from '../http/schemas.js';
import { msg, zodMessage } from '../lib/messages.js';

/**
 * Field bounds shared by the lead routes and the import validator, so a lead created by hand
 * and one created by an import obey the same rules.
 */
export const LIMITS = {
  name: 200,
  email: 254,
  tags: 50,
  tag: 50,
  text: 10_000,
  slug: 40,
  rawPhone: 40,
  filename: 255,
  importRows: 100_000,
} as const;

/** Statuses and activity types are short slugs (`new`, `contacted`, `call_back`). */
export const Slug = z
  .string()
  .min(1)
  .max(LIMITS.slug)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, zodMessage(msg('issue.slug')));

export const Name = z.string().trim().min(1).max(LIMITS.name);
export const Email = z.email().max(LIMITS.email);
export const Tag = z.string().trim().min(1).max(LIMITS.tag);
export const Tags = z.array(Tag).max(LIMITS.tags);
export const Text = z.string().trim().min(1).max(LIMITS.text);
export const RawPhone = z.string().trim().min(1).max(LIMITS.rawPhone);
export const Filename = z.string().trim().min(1).max(LIMITS.filename);
export const IsoDateTime = IsoInstant;

/** Tags keep their first spelling and order; repeats are dropped. */
export function uniqueTags(tags: readonly string[]): string[] {
  return [...new Set(tags)];
}
