import type { gmail_v1 } from '@googleapis/gmail';
import type { OAuth2Client } from 'google-auth-library';
import { lazyImport } from '../../lib/lazy-import.js';
import { GMAIL_UNITS, QuotaPacer } from './quota.js';

/*
 * Google through its official clients: google-auth-library's OAuth2Client (consent URL, code
 * exchange, refresh, revoke) and @googleapis/gmail. Real Google by default; the simulator is
 * reached through the same code by the clients' own options — OAuth2Client `endpoints`
 * (oauth2AuthBaseUrl, oauth2TokenUrl, oauth2RevokeUrl) and the Gmail client's `rootUrl`.
 * Both load at their first use (src/lib/lazy-import.ts): most processes never talk to Google.
 */

const googleClients = lazyImport(async () => {
  const [{ gmail }, { OAuth2Client }] = await Promise.all([import('@googleapis/gmail'), import('google-auth-library')]);
  return { gmail, OAuth2Client };
});

export const GMAIL_SCOPE = 'https://www.googleapis.com/auth/gmail.readonly';

export interface GoogleSettings {
  clientId: string;
  clientSecret: string;
  /** Where our callback is (GET /oauth/google/callback under PUBLIC_BASE_URL). */
  redirectUri: string;
  /** Unset: Google's own endpoints. */
  endpoints?: { oauth2AuthBaseUrl: string; oauth2TokenUrl: string; oauth2RevokeUrl: string };
  /** Unset: https://gmail.googleapis.com/. */
  gmailRootUrl?: string;
}

/** The grant is gone (revoked by the user, expired, or the password changed): only a new consent helps. */
export class GoogleGrantError extends Error {
  override name = 'GoogleGrantError';
}

/** history.list 404: the stored historyId is older than what Gmail keeps; a full sync is needed. */
export class GmailHistoryExpired extends Error {
  override name = 'GmailHistoryExpired';
}

/** Gmail said 429 or 5xx: try again later, not before its Retry-After when it sent one. */
export class GmailUnavailable extends Error {
  override name = 'GmailUnavailable';
  constructor(readonly status: number, message: string, readonly retryAfterMs: number | null = null, options?: ErrorOptions) {
    super(message, options);
  }
}

async function oauth(s: GoogleSettings): Promise<OAuth2Client> {
  const { OAuth2Client } = await googleClients();
  return new OAuth2Client({ clientId: s.clientId, clientSecret: s.clientSecret, redirectUri: s.redirectUri, ...(s.endpoints ? { endpoints: s.endpoints } : {}) });
}

interface HttpishError {
  status?: number;
  response?: { status?: number; data?: unknown; headers?: unknown };
  message?: string;
}

function statusOf(err: unknown): number | undefined {
  const e = err as HttpishError;
  return e.response?.status ?? e.status;
}

/**
 * Retry-After (delay-seconds or an HTTP date) of an error's response, in ms. gaxios 7 (under
 * @googleapis/gmail) gives a `Headers` — not always this realm's (instanceof fails), so it is
 * recognised by its get(); older gaxios gives a plain object.
 */
export function retryAfterMsOf(err: unknown, nowMs = Date.now()): number | null {
  const headers = (err as HttpishError).response?.headers;
  let value: unknown = null;
  if (typeof headers === 'object' && headers !== null) {
    const get = (headers as { get?: unknown }).get;
    value = typeof get === 'function' ? (get as (name: string) => unknown).call(headers, 'retry-after') : (headers as Record<string, unknown>)['retry-after'];
  }
  if (typeof value !== 'string' || value.trim() === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

function isInvalidGrant(err: unknown): boolean {
  const e = err as HttpishError;
  const data = e.response?.data as { error?: unknown } | undefined;
  return data?.error === 'invalid_grant' || e.message === 'invalid_grant' || /invalid_grant/.test(e.message ?? '');
}

/** Turns what the clients throw into the three outcomes the sync acts on; anything else is rethrown. */
export function classifyGoogleError(err: unknown, what: string): Error {
  if (isInvalidGrant(err)) return new GoogleGrantError(`${what}: Google answered invalid_grant (the access was revoked or expired)`);
  const status = statusOf(err);
  if (status === 401) return new GoogleGrantError(`${what}: Google refused the credentials (401)`);
  if (status === 429 || (status !== undefined && status >= 500)) return new GmailUnavailable(status, `${what}: Gmail answered ${status}; retried later`, retryAfterMsOf(err), { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

/** The consent URL: read-only Gmail, offline (a refresh token), consent asked every time (so one is always given). */
export async function consentUrl(s: GoogleSettings, state: string): Promise<string> {
  return (await oauth(s)).generateAuthUrl({ access_type: 'offline', prompt: 'consent', scope: [GMAIL_SCOPE], state, include_granted_scopes: true });
}

/** Exchanges the consent's code for a refresh token and reads which mailbox it opens. */
export async function exchangeCode(s: GoogleSettings, code: string): Promise<{ refreshToken: string; email: string; historyId: string | null }> {
  const client = await oauth(s);
  let tokens;
  try {
    ({ tokens } = await client.getToken(code));
  } catch (err) {
    throw classifyGoogleError(err, 'exchanging the consent code');
  }
  if (!tokens.refresh_token) throw new GoogleGrantError('Google gave no refresh token (offline access was not granted)');
  client.setCredentials(tokens);
  const profile = await (await gmailOf(s, client)).users.getProfile({ userId: 'me' }).catch((err: unknown) => {
    throw classifyGoogleError(err, 'reading the mailbox profile');
  });
  return { refreshToken: tokens.refresh_token, email: profile.data.emailAddress ?? '', historyId: profile.data.historyId ?? null };
}

/** Revokes the grant at Google. A token Google no longer knows counts as revoked. */
export async function revokeGrant(s: GoogleSettings, refreshToken: string): Promise<void> {
  try {
    await (await oauth(s)).revokeToken(refreshToken);
  } catch (err) {
    const status = statusOf(err);
    if (status === 400 || isInvalidGrant(err)) return;
    throw classifyGoogleError(err, 'revoking the Google grant');
  }
}

async function gmailOf(s: GoogleSettings, auth: OAuth2Client): Promise<gmail_v1.Gmail> {
  const { gmail } = await googleClients();
  // retry: false — the job engine owns retries, with its backoff and its limit on failures.
  // @googleapis/gmail types `auth` with its own nested copy of google-auth-library (10.5 under
  // googleapis-common); at run time it only calls the client's request(), which ours has.
  return gmail({ version: 'v1', auth: auth as unknown as gmail_v1.Options['auth'], retry: false, ...(s.gmailRootUrl ? { rootUrl: s.gmailRootUrl } : {}) });
}

export interface MessageRef {
  id: string;
}

/** One mailbox, read-only, as the sync needs it. Every method throws the classified errors above. */
export interface Mailbox {
  profile(): Promise<{ email: string; historyId: string }>;
  /** `estimate`: Gmail's resultSizeEstimate (all pages). */
  list(q: string, pageToken: string | null, maxResults: number): Promise<{ ids: string[]; nextPageToken: string | null; estimate: number }>;
  /** Message ids added since `startHistoryId` (a page of at most `maxResults` history records), and the mailbox's historyId now. */
  history(startHistoryId: string, pageToken: string | null, maxResults: number): Promise<{ ids: string[]; nextPageToken: string | null; historyId: string }>;
  get(id: string): Promise<gmail_v1.Schema$Message | null>;
  attachment(messageId: string, attachmentId: string): Promise<Buffer>;
}

/**
 * A mailbox's client. Every Gmail call first waits for its quota units (quota.ts): one pacer per
 * client, and the sync holds one client per job, one job per business at a time.
 */
export function mailboxOf(s: GoogleSettings, refreshToken: string, pacer = new QuotaPacer()): Mailbox {
  const gmailApi = lazyImport(async () => {
    const client = await oauth(s);
    client.setCredentials({ refresh_token: refreshToken });
    return gmailOf(s, client);
  });
  const call = async <T>(what: string, units: number, f: (api: gmail_v1.Gmail) => Promise<T>): Promise<T> => {
    await pacer.take(units);
    const api = await gmailApi();
    try {
      return await f(api);
    } catch (err) {
      throw classifyGoogleError(err, what);
    }
  };
  return {
    profile: () => call('reading the mailbox profile', GMAIL_UNITS.profile, async (api) => {
      const r = await api.users.getProfile({ userId: 'me' });
      return { email: r.data.emailAddress ?? '', historyId: r.data.historyId ?? '0' };
    }),
    list: (q, pageToken, maxResults) => call('listing messages', GMAIL_UNITS.list, async (api) => {
      const r = await api.users.messages.list({ userId: 'me', q, maxResults, ...(pageToken ? { pageToken } : {}) });
      return { ids: (r.data.messages ?? []).map((m) => m.id ?? '').filter((id) => id !== ''), nextPageToken: r.data.nextPageToken ?? null, estimate: r.data.resultSizeEstimate ?? 0 };
    }),
    history: async (startHistoryId, pageToken, maxResults) => {
      await pacer.take(GMAIL_UNITS.history);
      const api = await gmailApi();
      try {
        const r = await api.users.history.list({ userId: 'me', startHistoryId, historyTypes: ['messageAdded'], maxResults, ...(pageToken ? { pageToken } : {}) });
        const ids = (r.data.history ?? []).flatMap((h) => (h.messagesAdded ?? []).map((a) => a.message?.id ?? '')).filter((id) => id !== '');
        return { ids: [...new Set(ids)], nextPageToken: r.data.nextPageToken ?? null, historyId: r.data.historyId ?? startHistoryId };
      } catch (err) {
        if (statusOf(err) === 404) throw new GmailHistoryExpired(`history from ${startHistoryId} is no longer kept by Gmail`);
        throw classifyGoogleError(err, 'reading the mailbox history');
      }
    },
    get: async (id) => {
      await pacer.take(GMAIL_UNITS.get);
      const api = await gmailApi();
      try {
        return (await api.users.messages.get({ userId: 'me', id, format: 'full' })).data;
      } catch (err) {
        // Deleted between the listing and now: nothing to import.
        if (statusOf(err) === 404) return null;
        throw classifyGoogleError(err, 'reading a message');
      }
    },
    attachment: (messageId, attachmentId) => call('reading an attachment', GMAIL_UNITS.attachment, async (api) => {
      const r = await api.users.messages.attachments.get({ userId: 'me', messageId, id: attachmentId });
      return Buffer.from(r.data.data ?? '', 'base64url');
    }),
  };
}
