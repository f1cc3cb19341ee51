import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readWavScript } from '../telephony/wav.js';

/** The simulator's development key: the adapter sends it as any OpenAI key (Bearer). */
export const SIM_TRANSCRIBE_API_KEY = 'sim-transcribe-key';

/** Fault injection for tests; change fields on `sim.faults` at any time. */
export interface TranscriptionSimFaults {
  /** The next n requests answer 429 with Retry-After: retryAfterS. */
  rateLimit: number;
  retryAfterS: number;
  /** The next n requests answer 500. */
  serverErrors: number;
  /** Wait this long before answering (a slow provider; a kill -9 mid-transcription). */
  delayMs: number;
}

const OPENAI_LANGUAGE: Record<string, string> = { he: 'hebrew', en: 'english' };

/**
 * An OpenAI-compatible transcription server (`POST /v1/audio/transcriptions`, multipart, Bearer
 * auth) that "hears" a simulated call: the telephony simulator's recordings carry what was said
 * (wav.ts, the `bhsc` chunk), and this answers it as Whisper's verbose_json with segments. A
 * recording without a script is a tone: an empty transcript. A file that is not WAV audio is
 * answered as OpenAI answers unreadable audio (400 invalid_request_error).
 */
export class TranscriptionSimulator {
  readonly faults: TranscriptionSimFaults;
  readonly stats = { requests: 0, transcribed: 0, rateLimited: 0, rejected: 0 };
  #server: Server | null = null;
  #url = '';

  constructor(opts: { retryAfterS?: number } = {}) {
    this.faults = { rateLimit: 0, retryAfterS: opts.retryAfterS ?? 1, serverErrors: 0, delayMs: 0 };
  }

  /** The base URL the SDK is given (…/v1). */
  get baseURL(): string {
    return `${this.#url}/v1`;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    this.#url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/audio/transcriptions') {
        return error(res, 404, 'not_found', 'Unknown request URL.');
      }
      if (req.headers.authorization !== `Bearer ${SIM_TRANSCRIBE_API_KEY}`) {
        return error(res, 401, 'invalid_api_key', 'Incorrect API key provided.');
      }
      this.stats.requests++;
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (this.faults.delayMs > 0) await new Promise((r) => setTimeout(r, this.faults.delayMs));
      if (this.faults.rateLimit > 0) {
        this.faults.rateLimit--;
        this.stats.rateLimited++;
        res.setHeader('retry-after', String(this.faults.retryAfterS));
        return error(res, 429, 'rate_limit_exceeded', 'Rate limit reached for requests.', 'requests');
      }
      if (this.faults.serverErrors > 0) {
        this.faults.serverErrors--;
        return error(res, 500, 'server_error', 'The server had an error while processing your request.');
      }
      const form = await new Request('http://sim/', {
        method: 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? '' },
        body: Buffer.concat(chunks),
      }).formData().catch(() => null);
      const file = form?.get('file');
      if (!form || !file || typeof file === 'string') return error(res, 400, 'invalid_request_error', 'Could not parse multipart form: the file field is missing.', 'invalid_request_error');
      if (!form.get('model')) return error(res, 400, 'invalid_request_error', "you must provide a model parameter", 'invalid_request_error');
      const audio = Buffer.from(await file.arrayBuffer());
      if (audio.length < 12 || audio.toString('ascii', 0, 4) !== 'RIFF' || audio.toString('ascii', 8, 12) !== 'WAVE') {
        this.stats.rejected++;
        return error(res, 400, 'invalid_request_error', 'Audio file might be corrupted or unsupported', 'invalid_request_error');
      }
      const script = readWavScript(audio);
      const requested = typeof form.get('language') === 'string' ? String(form.get('language')) : null;
      const lang = (script?.language ?? requested ?? 'en').slice(0, 2).toLowerCase();
      const segments = (script?.segments ?? []).map((s, id) => ({
        id, seek: 0, start: s.start_s, end: s.end_s, text: ` ${s.text}`, tokens: [], temperature: 0, avg_logprob: -0.2, compression_ratio: 1, no_speech_prob: 0.01,
      }));
      const duration = Math.max(0, (audio.length - 44) / 16_000);
      this.stats.transcribed++;
      const format = String(form.get('response_format') ?? 'json');
      const text = segments.map((s) => s.text.trim()).join(' ');
      const body = format === 'verbose_json' ? { task: 'transcribe', language: OPENAI_LANGUAGE[lang] ?? lang, duration, text, segments } : { text };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    } catch {
      error(res, 500, 'server_error', 'The server had an error while processing your request.');
    }
  }
}

/** OpenAI's error envelope. */
function error(res: ServerResponse, status: number, code: string, message: string, type = 'invalid_request_error'): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message, type, param: null, code } }));
}
