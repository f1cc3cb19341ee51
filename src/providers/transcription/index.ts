import type { TranscriptionConfig } from '../../config/config.js';
import { lazyImport } from '../../lib/lazy-import.js';
import type { OpenAiTranscriptionOptions } from './openai.adapter.js';
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
    const apiKey = c.apiKey;
    return { provider: openAiOnFirstUse(() => ({ baseURL: c.apiBase, apiKey, model: c.model, timeoutMs: c.timeoutMs })), simulator: null };
  }
  const simulator = new TranscriptionSimulator({ retryAfterS: c.simRetryAfterS });
  // Options read on first use: the simulator's port is known only once it has started.
  const provider = openAiOnFirstUse(() => ({ baseURL: c.apiBase ?? simulator.baseURL, apiKey: SIM_TRANSCRIBE_API_KEY, model: c.model, timeoutMs: c.timeoutMs }));
  return { provider, simulator };
}

/** The adapter, with the OpenAI SDK, built at the first transcription (src/lib/lazy-import.ts). */
function openAiOnFirstUse(options: () => OpenAiTranscriptionOptions): TranscriptionProvider {
  const adapter = lazyImport(async () => new (await import('./openai.adapter.js')).OpenAiTranscription(options()));
  return { transcribe: async (req) => (await adapter()).transcribe(req) };
}
