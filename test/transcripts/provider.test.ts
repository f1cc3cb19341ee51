import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { scriptedWav, sineWav } from '../../src/providers/telephony/wav.js';
import { OpenAiTranscription } from '../../src/providers/transcription/openai.adapter.js';
import { SIM_TRANSCRIBE_API_KEY, TranscriptionSimulator } from '../../src/providers/transcription/simulator.js';
import { TranscriptionError } from '../../src/providers/transcription/types.js';

/** The real adapter (the official openai SDK) against the simulator, over HTTP: success and each error class. */
const sim = new TranscriptionSimulator({ retryAfterS: 7 });
let adapter: OpenAiTranscription;

before(async () => {
  await sim.start();
  adapter = new OpenAiTranscription({ baseURL: sim.baseURL, apiKey: SIM_TRANSCRIBE_API_KEY, model: 'whisper-1', timeoutMs: 5_000 });
});
after(() => sim.stop());

async function failure(p: Promise<unknown>): Promise<TranscriptionError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TranscriptionError, String(err));
    return err;
  }
  assert.fail('expected a TranscriptionError');
}

describe('transcription provider: openai SDK adapter ↔ simulator', () => {
  test('verbose_json: the text and timed segments of what the recording says, in its language', async () => {
    const script = { language: 'he-IL', segments: [{ start_s: 0, end_s: 1.5, text: 'שלום רב' }, { start_s: 1.5, end_s: 3, text: 'מתי נוח לך?' }] };
    const t = await adapter.transcribe({ audio: scriptedWav(3, script), filename: 'a.wav', language: 'he' });
    assert.equal(t.text, 'שלום רב מתי נוח לך?');
    assert.deepEqual(t.segments, script.segments);
    assert.equal(t.language, 'hebrew', 'OpenAI names the language');
  });

  test('a recording without a script is a tone: an empty transcript', async () => {
    const t = await adapter.transcribe({ audio: sineWav(1), filename: 'a.wav', language: 'en' });
    assert.equal(t.text, '');
    assert.deepEqual(t.segments, []);
  });

  test('429 → rate_limited with the Retry-After; 400 (unreadable audio) → rejected; 500 → transient; a wrong key → transient', async () => {
    sim.faults.rateLimit = 1;
    const limited = await failure(adapter.transcribe({ audio: sineWav(1), filename: 'a.wav', language: 'en' }));
    assert.equal(limited.kind, 'rate_limited');
    assert.equal(limited.retryAfterMs, 7_000);
    const bad = await failure(adapter.transcribe({ audio: Buffer.from('not audio'), filename: 'a.wav', language: 'en' }));
    assert.equal(bad.kind, 'rejected');
    assert.match(bad.message, /400.*corrupted or unsupported/);
    sim.faults.serverErrors = 1;
    assert.equal((await failure(adapter.transcribe({ audio: sineWav(1), filename: 'a.wav', language: 'en' }))).kind, 'transient');
    const wrongKey = new OpenAiTranscription({ baseURL: sim.baseURL, apiKey: 'sk-wrong', model: 'whisper-1', timeoutMs: 5_000 });
    assert.equal((await failure(wrongKey.transcribe({ audio: sineWav(1), filename: 'a.wav', language: 'en' }))).kind, 'transient');
    const down = new OpenAiTranscription({ baseURL: 'http://127.0.0.1:1/v1', apiKey: 'k', model: 'whisper-1', timeoutMs: 2_000 });
    assert.equal((await failure(down.transcribe({ audio: sineWav(1), filename: 'a.wav', language: 'en' }))).kind, 'transient');
  });
});
