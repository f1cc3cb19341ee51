import { lazyImport } from '../../lib/lazy-import.js';
import type { TelephonyProvider } from './types.js';

/**
 * A provider built on its first call: the twilio SDK's REST client (with axios and its other
 * dependencies, ~120 modules) cost every process that started the outbound module ~0.2 s of CPU
 * to import, and an API process serving leads, or a worker with no call to place, never uses it.
 * `build` runs once; a failed build (src/lib/lazy-import.ts) is tried again on the next call.
 */
export function lazyTelephonyProvider(build: () => Promise<TelephonyProvider>): TelephonyProvider {
  const load = lazyImport(build);
  return {
    createCall: async (req) => (await load()).createCall(req),
    fetchCall: async (sid) => (await load()).fetchCall(sid),
    findCalls: async (q) => (await load()).findCalls(q),
    endCall: async (sid) => (await load()).endCall(sid),
    redirectCall: async (sid, twiml) => (await load()).redirectCall(sid, twiml),
    findRecording: async (callSid) => (await load()).findRecording(callSid),
    downloadRecording: async (recordingSid, dest) => (await load()).downloadRecording(recordingSid, dest),
  };
}
