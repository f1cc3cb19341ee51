/**
 * Real audio bytes for the simulator's recordings: a valid PCM WAV file (RIFF, 8 kHz, mono,
 * 16-bit) holding a sine tone, so players, Range requests and byte counts behave as with Twilio's.
 *
 * A simulated call's recording also carries what was said in it (the flow's `Say` text, the
 * callee's scripted answer) as an extra RIFF chunk, `bhsc`, holding UTF-8 JSON. Players skip
 * chunks they do not know, as RIFF requires; the transcription simulator reads it back from the
 * uploaded file, so it "hears" the call through the same bytes a real provider would get.
 */
export interface SpokenScript {
  /** BCP 47 language of the call, e.g. `he-IL`, `en-US`. */
  language: string;
  segments: { start_s: number; end_s: number; text: string }[];
}

const SCRIPT_CHUNK = 'bhsc';

export function sineWav(seconds: number, hz = 440, sampleRate = 8_000): Buffer {
  return scriptedWav(seconds, undefined, hz, sampleRate);
}

export function scriptedWav(seconds: number, script: SpokenScript | undefined, hz = 440, sampleRate = 8_000): Buffer {
  const samples = Math.max(1, Math.round(seconds * sampleRate));
  const dataBytes = samples * 2;
  const json = script ? Buffer.from(JSON.stringify(script), 'utf8') : Buffer.alloc(0);
  // A chunk's body is padded to an even length.
  const scriptChunk = script ? 8 + json.length + (json.length % 2) : 0;
  const buf = Buffer.alloc(44 + scriptChunk + dataBytes);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + scriptChunk + dataBytes, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16); // fmt chunk size
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * 2, 28); // byte rate
  buf.writeUInt16LE(2, 32); // block align
  buf.writeUInt16LE(16, 34); // bits per sample
  let at = 36;
  if (script) {
    buf.write(SCRIPT_CHUNK, at, 'ascii');
    buf.writeUInt32LE(json.length, at + 4);
    json.copy(buf, at + 8);
    at += scriptChunk;
  }
  buf.write('data', at, 'ascii');
  buf.writeUInt32LE(dataBytes, at + 4);
  at += 8;
  for (let i = 0; i < samples; i++) {
    buf.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / sampleRate) * 8_000), at + i * 2);
  }
  return buf;
}

/** The script a simulated recording carries, or undefined (not a WAV, or no script chunk). */
export function readWavScript(file: Buffer): SpokenScript | undefined {
  if (file.length < 12 || file.toString('ascii', 0, 4) !== 'RIFF' || file.toString('ascii', 8, 12) !== 'WAVE') return undefined;
  let at = 12;
  while (at + 8 <= file.length) {
    const id = file.toString('ascii', at, at + 4);
    const size = file.readUInt32LE(at + 4);
    if (id === SCRIPT_CHUNK) {
      try {
        return JSON.parse(file.toString('utf8', at + 8, at + 8 + size)) as SpokenScript;
      } catch {
        return undefined;
      }
    }
    at += 8 + size + (size % 2);
  }
  return undefined;
}
