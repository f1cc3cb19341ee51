import OpenAI, { APIError, toFile } from 'openai';
import type { TranscribeRequest, Transcription, TranscriptionProvider } from './types.js';
import { TranscriptionError } from './types.js';

export interface OpenAiTranscriptionOptions {
  /** e.g. https://api.openai.com/v1, https://api.groq.com/openai/v1, or the simulator's /v1. */
  baseURL: string | undefined;
  apiKey: string;
  model: string;
  timeoutMs: number;
}

/** The fields of `verbose_json` we read (OpenAI, Groq and faster-whisper servers all send them). */
interface VerboseJson {
  text?: string;
  language?: string;
  segments?: Array<{ start?: number; end?: number; text?: string }>;
}

/** Statuses that say "this file will never be transcribed": bad or unsupported audio, too large. */
const PERMANENT = new Set([400, 404, 413, 415, 422]);

/**
 * The real adapter: the official `openai` SDK's `audio.transcriptions.create`. The SDK's own
 * retries are off (maxRetries 0): the engine owns retries, and a 429 must reach the job so it
 * can slow the queue by the provider's Retry-After instead of the SDK sleeping inside a batch.
 */
export class OpenAiTranscription implements TranscriptionProvider {
  readonly #client: OpenAI;

  constructor(readonly opts: OpenAiTranscriptionOptions) {
    this.#client = new OpenAI({ apiKey: opts.apiKey, baseURL: opts.baseURL, maxRetries: 0, timeout: opts.timeoutMs });
  }

  async transcribe(req: TranscribeRequest): Promise<Transcription> {
    let res: VerboseJson;
    try {
      res = (await this.#client.audio.transcriptions.create({
        file: await toFile(req.audio, req.filename, { type: 'audio/wav' }),
        model: this.opts.model,
        language: req.language,
        response_format: 'verbose_json',
        timestamp_granularities: ['segment'],
      })) as VerboseJson;
    } catch (err) {
      throw classify(err);
    }
    return {
      language: res.language ?? null,
      text: (res.text ?? '').trim(),
      segments: (res.segments ?? []).map((s) => ({ start_s: s.start ?? 0, end_s: s.end ?? 0, text: (s.text ?? '').trim() })),
    };
  }
}

export function classify(err: unknown): TranscriptionError {
  if (err instanceof APIError && typeof err.status === 'number') {
    const text = `transcription provider answered ${err.status}: ${err.message}`;
    if (err.status === 429) return new TranscriptionError('rate_limited', text, retryAfterMs(err.headers));
    if (PERMANENT.has(err.status)) return new TranscriptionError('rejected', text);
    return new TranscriptionError('transient', text);
  }
  return new TranscriptionError('transient', `transcription provider unreachable: ${err instanceof Error ? err.message : String(err)}`);
}

/** Retry-After in seconds or as an HTTP date; OpenAI also sends retry-after-ms. Default 5 s. */
function retryAfterMs(headers: unknown): number {
  const get = (name: string): string | null => {
    if (headers && typeof (headers as Headers).get === 'function') return (headers as Headers).get(name);
    const v = (headers as Record<string, unknown> | undefined)?.[name];
    return typeof v === 'string' ? v : null;
  };
  const ms = Number(get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const raw = get('retry-after');
  if (raw) {
    const s = Number(raw);
    if (Number.isFinite(s) && s >= 0) return s * 1000;
    const at = Date.parse(raw);
    if (Number.isFinite(at)) return Math.max(0, at - Date.now());
  }
  return 5_000;
}
