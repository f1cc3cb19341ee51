import type { TelephonyProvider } from './types.js';

/**
 * A provider built on its first call: the twilio SDK's REST client (with axios and its other
 * dependencies, ~120 modules) cost every process that started the outbound module ~0.2 s of CPU
 * to import, and an API process serving leads, or a worker with no call to place, never uses it.
 * `load` runs once; a failed load (src/lib/lazy-import.ts) is tried again on the next call.
 */
export function lazyTelephonyProvider(load: () => Promise<TelephonyProvider>): TelephonyProvider {
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
