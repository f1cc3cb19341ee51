import { z } from 'zod';

/*
 * Building blocks of the answers. This folder imports nothing but zod: the server, the CLI and
 * the dashboard (with `import type`, so zod stays out of the browser bundle) share it.
 */

/** Ids of leads, jobs, runs … are JSON integers. */
export const Int = z.number().int();

/** An instant as the server writes it: `Date#toISOString()`, always UTC (`…Z`). */
/** `{status: count}` for every status of a list: the counts a run or a broadcast shows. */
export function countsBy<S extends string>(statuses: readonly S[]) {
  return z.object(Object.fromEntries(statuses.map((s) => [s, Int])) as Record<S, typeof Int>);
}

/** What a domain row that a job drives (a run, a broadcast) shows first: its id, its job, the job's status. */
export const JobBacked = z.object({
  id: Int,
  job_id: Int,
  status: z.string().describe('the job\'s status (completed once the finished job was pruned)'),
});

export const Timestamp = z.string().meta({ format: 'date-time' });

/** The error envelope of every non-2xx answer (API.md "Conventions"). */
export const ApiErrorBody = z
  .object({
    error: z.object({
      code: z.string().describe('snake_case, stable: clients branch on it'),
      message: z.string().describe('a sentence a person can act on, in the caller\'s language'),
      details: z.record(z.string(), z.unknown()).optional().describe('e.g. `issues` of a 400, `job_id` of a 429, `error_id` of a 500 (quote it: the server log has the details)'),
    }),
  })
  .describe('An error: {error: {code, message, details?}}');
export type ApiErrorBody = z.infer<typeof ApiErrorBody>;

/**
 * The error answers every route declares. 5xx too: a database failover answers 503
 * `database_unavailable`, anything unexpected 500 `internal_error`, both in the envelope.
 */
export const errorResponses = { '4xx': ApiErrorBody, '5xx': ApiErrorBody } as const;

/** A page of a list: `?limit=&cursor=` in, `{items, next_cursor}` out. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    next_cursor: z.string().nullable().describe('pass as ?cursor= for the next page; null on the last one'),
  }).describe(`A page of items (${item.description ?? 'see the schema'}) and next_cursor`);
}
