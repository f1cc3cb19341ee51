/** One timed piece of a transcript, as API.md's transcript answer carries it. */
export interface TranscriptSegment {
  start_s: number;
  end_s: number;
  text: string;
}

export interface Transcription {
  /** What the provider says it heard (OpenAI answers a language name, e.g. `hebrew`). */
  language: string | null;
  text: string;
  segments: TranscriptSegment[];
}

export interface TranscribeRequest {
  audio: Buffer;
  filename: string;
  /** ISO 639-1 (`he`, `en`): the business's language, sent as the provider's hint. */
  language: string;
}

/** Transcribes audio (OpenAI-compatible: OpenAI, Azure OpenAI, Groq, a self-hosted Whisper, or our simulator). */
export interface TranscriptionProvider {
  transcribe(req: TranscribeRequest): Promise<Transcription>;
}

/**
 * What went wrong, for the job: `rate_limited` slows the queue (snooze for retryAfterMs, the job
 * is not failed), `rejected` is permanent (bad audio, unsupported format: retrying cannot help),
 * `transient` follows the engine's retry rules.
 */
export class TranscriptionError extends Error {
  override name = 'TranscriptionError';
  constructor(
    readonly kind: 'rate_limited' | 'rejected' | 'transient',
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}
