import type { TranscriptionConfig } from '../../config/config.js';
import { OpenAiTranscription } from './openai.adapter.js';
import { SIM_TRANSCRIBE_API_KEY, TranscriptionSimulator } from './simulator.js';
import type { TranscriptionProvider } from './types.js';

export interface TranscriptionSetup {
  provider: TranscriptionProvider;
  /** The in-process simulator when no TRANSCRIBE_API_KEY is set (started by the caller). */
  simulator: TranscriptionSimulator | null;
}

/**
 * The provider of this process: the real API when a key is set; otherwise the simulator,
 * reached through the very same SDK adapter (so tests exercise the production code path).
 */
export function transcriptionFromConfig(c: TranscriptionConfig): TranscriptionSetup {
  if (c.real && c.apiKey) {
    return { provider: new OpenAiTranscription({ baseURL: c.apiBase, apiKey: c.apiKey, model: c.model, timeoutMs: c.timeoutMs }), simulator: null };
  }
  const simulator = new TranscriptionSimulator({ retryAfterS: c.simRetryAfterS });
  let adapter: OpenAiTranscription | null = null;
  const provider: TranscriptionProvider = {
    transcribe(req) {
      // Built on first use: the simulator's port is known only once it has started.
      adapter ??= new OpenAiTranscription({ baseURL: c.apiBase ?? simulator.baseURL, apiKey: SIM_TRANSCRIBE_API_KEY, model: c.model, timeoutMs: c.timeoutMs });
      return adapter.transcribe(req);
    },
  };
  return { provider, simulator };
}
