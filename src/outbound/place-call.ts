import type pg from 'pg';
import { publicErrorText } from '../lib/errors.js';
import { maskPhone, type Logger } from '../lib/logger.js';
import { ProviderError, type TelephonyProvider } from '../providers/telephony/types.js';
import { applyProviderState } from './call-state.js';
import { noteUnconfirmedDial, requeueThrottledDial, type CallRow } from './calls.repo.js';
import { voiceUrl, type VoiceHook } from './voice-urls.js';

export interface CallPlacerDeps {
  pool: pg.Pool;
  provider: TelephonyProvider;
  /** The account a call goes through (its business's own, or the deployment's); default: `provider`. */
  providerFor?: (call: CallRow) => Promise<TelephonyProvider>;
  /** How long the provider may take to answer a create-call request. */
  createTimeoutMs: number;
  log: Logger;
  publicBaseUrl(): string;
}

/** Places one claimed call at its CPS turn. Never rejects: a failure to record an outcome leaves the call for the sweeper. */
export type CallPlacer = (call: CallRow, at: { delayMs: number; maxCallS: number }) => Promise<void>;

/**
 * The provider half of a claim, after the claim committed: the call row (with our id and its
 * callback token) exists, the provider is asked with statusCallback carrying both, then the
 * provider's sid is recorded.
 * Never retried. Its errors decide what becomes of the call:
 * - unknown (timeout, 5xx, connection lost): the provider may have placed the call, so it is
 *   never redialled; it stays 'dialing' with the reason and the sweeper asks the provider later;
 * - throttled (429): certainly not placed; the call ends failed and a run's item is claimed anew
 *   2 s later;
 * - refused (any other provider answer): the call ends failed.
 */
export function createCallPlacer(deps: CallPlacerDeps): CallPlacer {
  const { pool, log } = deps;
  const providerFor = deps.providerFor ?? (() => Promise.resolve(deps.provider));

  const callbackUrl = (hook: VoiceHook, call: CallRow): string => voiceUrl(deps.publicBaseUrl(), hook, call);

  async function dial(call: CallRow, maxCallS: number): Promise<void> {
    const callLog = log.child({ businessId: call.business_id, callId: call.id, to: maskPhone(call.to_number) });
    try {
      // A ProviderError here (the business's account is gone) is a refusal: nothing was placed.
      const provider = await providerFor(call);
      const placed = await provider.createCall({
        to: call.to_number,
        from: call.from_number,
        statusCallback: callbackUrl('status', call),
        recordingStatusCallback: callbackUrl('recording', call),
        record: true,
        timeLimitS: maxCallS,
        // The call flow: Twilio fetches it from us once answered; asynchronous AMD runs beside
        // it (a human is not kept waiting) and waits for the end of a machine's greeting, so a
        // voicemail starts after the beep (twilio.webhooks.ts, /amd).
        url: callbackUrl('answer', call),
        machineDetection: 'DetectMessageEnd',
        asyncAmdStatusCallback: callbackUrl('amd', call),
        timeoutMs: deps.createTimeoutMs,
      });
      await applyProviderState(pool, call.business_id, call.id, { status: placed.status, sid: placed.sid });
    } catch (err) {
      const e = err instanceof ProviderError ? err : notTheProvider(err, callLog);
      if (e.kind === 'unknown') {
        callLog.warn({ err: e.message }, 'dial outcome unknown; left for reconciliation');
        await noteUnconfirmedDial(pool, call.business_id, call.id, `unconfirmed: ${e.message}`.slice(0, 500)).catch(() => undefined);
        return;
      }
      if (e.kind === 'throttled') {
        callLog.warn('provider throttled the dial; the item goes back to the queue');
        if (call.run_item_id === null) await applyProviderState(pool, call.business_id, call.id, { status: 'failed', error: 'throttled by the provider; not placed' });
        else await requeueThrottledDial(pool, call.business_id, call.id, call.run_item_id);
        return;
      }
      callLog.warn({ err: e.message, status: e.httpStatus }, 'provider refused the call');
      await applyProviderState(pool, call.business_id, call.id, { status: 'failed', error: `rejected: ${e.message}`.slice(0, 500) });
    }
  }

  /**
   * An error that is not the provider's answer (a bug, a lost database connection): whether the call
   * was placed is unknown. The call's error is read by clients, so it gets a sentence with an error
   * id (lib/errors.ts publicErrorText), and the log the raw error under that id.
   */
  function notTheProvider(err: unknown, callLog: Logger): ProviderError {
    const { text, errorId } = publicErrorText(err);
    callLog.warn({ err, errorId }, 'dial failed with an error that is not the provider\'s');
    return new ProviderError('unknown', text);
  }

  return async (call, at) => {
    try {
      if (at.delayMs > 0) await new Promise((r) => setTimeout(r, at.delayMs));
      await dial(call, at.maxCallS);
    } catch (err) {
      log.warn({ err, businessId: call.business_id, callId: call.id }, 'dialer: could not record a dial outcome; the sweeper will');
    }
  };
}
