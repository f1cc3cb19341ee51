/// <reference lib="dom" />
import type { Me, RoleName } from '../../contract/index.js';
import { ApiError, getToken, post, request, setToken } from './api.js';

export type { Me };
export type Role = RoleName;
export const ROLES: readonly Role[] = ['agent', 'admin', 'owner'];
const RANK: Record<Role, number> = { agent: 0, admin: 1, owner: 2 };

let me: Me | null = null;

export const signedInAs = (): Me | null => me;

/**
 * Whether the signed-in user's role reaches `role`. Only decides what the page shows: the API
 * checks every request itself, and a 403 that comes anyway is shown as it is.
 */
export function can(role: Role): boolean {
  return me !== null && RANK[me.user.role] >= RANK[role];
}

export const isRole = (v: unknown): v is Role => v === 'owner' || v === 'admin' || v === 'agent';

/**
 * Who is signed in: the stored token's user, or the session cookie's. null when neither is
 * accepted (401); other failures throw, so a server that is down is not mistaken for "signed out".
 */
export async function resume(): Promise<Me | null> {
  try {
    me = (await (await request('GET', '/me', { probe: true })).json()) as Me;
    return me;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      me = null;
      return null;
    }
    throw err;
  }
}

export async function logIn(email: string, password: string): Promise<Me> {
  const answer = await post<Me>('/auth/login', { email, password }, undefined, { anonymous: true });
  setToken(null);
  me = answer;
  return answer;
}

/** A pasted token: accepted when `GET /me` answers for it; then kept, and any cookie session ended. */
export async function useToken(token: string): Promise<Me> {
  const answer = (await (await request('GET', '/me', { token })).json()) as Me;
  await endSession();
  setToken(token);
  me = answer;
  return answer;
}

export async function acceptInvite(inviteToken: string, password: string): Promise<{ user: { email: string } }> {
  return post<{ user: { email: string } }>('/auth/accept-invite', { invite_token: inviteToken, password }, undefined, { anonymous: true });
}

export async function signOut(): Promise<void> {
  const hadToken = getToken() !== null;
  setToken(null);
  me = null;
  if (!hadToken) await endSession();
}

/** Forgets the identity locally without asking the server (it already answered 401). */
export function forget(): void {
  setToken(null);
  me = null;
}

async function endSession(): Promise<void> {
  // Best effort: with no session the server answers 401, and signing out must still work offline.
  await post('/auth/logout', {}, undefined, { anonymous: true }).catch(() => undefined);
}
