import { z } from 'zod';

/** One timed piece of a transcript (seconds from the start of the recording). */
export const TranscriptSegment = z.object({
  start_s: z.number(),
  end_s: z.number(),
  text: z.string(),
});

/** GET /calls/{call_sid}/transcript (API.md "Transcripts and receipts from Gmail"). */
export const Transcript = z.object({
  call_sid: z.string(),
  status: z.enum(['none', 'pending', 'completed', 'failed']).describe('none: the call has no transcript (yet); pending: queued or being transcribed'),
  language: z.string().nullable().describe('the language it was transcribed in (the business language: he, en)'),
  text: z.string().nullable(),
  segments: z.array(TranscriptSegment),
  error: z.string().nullable().describe('why it failed (the provider’s reason)'),
});
export type Transcript = z.infer<typeof Transcript>;
