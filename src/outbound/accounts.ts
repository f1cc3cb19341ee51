import { createHash } from 'node:crypto';
import type { ChannelStore } from '../channels/channel-store.js';
import { ProviderError, type TelephonyProvider } from '../providers/telephony/types.js';

/**
 * The Twilio accounts calls go through: the deployment's (TWILIO_ACCOUNT_SID), and each
 * business's own subaccount when its voice channel names one (channels module). A call records
 * the account it was placed through (calls.account_sid, NULL = the deployment's); everything that
 * later concerns the call — its callbacks' signature, the sweeper's lookups, hanging up, its
 * recording — uses that account, even if the business has changed its channel since.
 */
export interface TelephonyAccounts {
  /** The deployment's account sid (the CPS key of every business without its own account). */
  readonly mainSid: string;
  readonly main: TelephonyProvider;
  /**
   * The provider for a call of `businessId` placed through `accountSid` (null: the deployment's).
   * ProviderError 'rejected' when that account is not the business's any more (its token is gone).
   */
  providerFor(businessId: number, accountSid: string | null): Promise<TelephonyProvider>;
  /** The auth token that signs the callbacks of such a call; null when that account is not the business's any more. */
  authTokenFor(businessId: number, accountSid: string | null): Promise<string | null>;
}

/** One of each account's adapters is kept (they hold no connection of their own: the transport is shared). */
const MAX_CACHED = 1_000;

export function createTelephonyAccounts(o: {
  mainSid: string;
  mainToken: string;
  main: TelephonyProvider;
  channels: ChannelStore | null;
  /** An adapter for another account (twilio.adapter.ts on the shared transport). */
  providerOf: (accountSid: string, authToken: string) => TelephonyProvider;
}): TelephonyAccounts {
  const cache = new Map<string, TelephonyProvider>();
  const isMain = (sid: string | null): boolean => sid === null || sid === o.mainSid;

  async function tokenOf(businessId: number, accountSid: string): Promise<string | null> {
    return o.channels ? o.channels.twilioAuthToken(businessId, accountSid) : null;
  }

  return {
    mainSid: o.mainSid,
    main: o.main,
    async providerFor(businessId, accountSid) {
      if (accountSid === null || isMain(accountSid)) return o.main;
      const token = await tokenOf(businessId, accountSid);
      if (token === null) throw new ProviderError('rejected', `account ${accountSid} is no longer this business's Twilio account`);
      // Keyed by a digest of the token too: a new token for the same account gets a new adapter.
      const key = `${accountSid}:${createHash('sha256').update(token).digest('hex')}`;
      let provider = cache.get(key);
      if (!provider) {
        if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value ?? '');
        provider = o.providerOf(accountSid, token);
        cache.set(key, provider);
      }
      return provider;
    },
    async authTokenFor(businessId, accountSid) {
      if (accountSid === null || isMain(accountSid)) return o.mainToken;
      return tokenOf(businessId, accountSid);
    },
  };
}
