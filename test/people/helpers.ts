import type { TestEnv, Tenant } from '../helpers/harness.js';
import { ADMIN_TOKEN } from '../helpers/harness.js';

export interface HttpRes<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
  cookies: Map<string, { value: string; attrs: string }>;
}

/** Real HTTP (the server listens): fetch with an optional cookie jar and bearer. */
export async function http<T = Record<string, unknown>>(
  env: TestEnv,
  method: string,
  path: string,
  o: { body?: unknown; bearer?: string; jar?: CookieJar; csrf?: string | null; headers?: Record<string, string> } = {},
): Promise<HttpRes<T>> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  if (o.bearer) headers.authorization = `Bearer ${o.bearer}`;
  if (o.jar && o.jar.size > 0) headers.cookie = [...o.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  if (o.csrf) headers['x-csrf-token'] = o.csrf;
  const res = await fetch(`${env.baseUrl}/api/v1${path}`, { method, headers, ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }) });
  const text = await res.text();
  const cookies = new Map<string, { value: string; attrs: string }>();
  for (const c of res.headers.getSetCookie()) {
    const [pair = '', ...attrs] = c.split(';');
    const eq = pair.indexOf('=');
    cookies.set(pair.slice(0, eq).trim(), { value: pair.slice(eq + 1).trim(), attrs: attrs.join(';') });
  }
  if (o.jar) {
    for (const [k, v] of cookies) {
      if (v.value === '' || /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(v.attrs)) o.jar.delete(k);
      else o.jar.set(k, v.value);
    }
  }
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T, headers: res.headers, cookies };
}

export type CookieJar = Map<string, string>;

/** A signed-in browser: its cookies and the CSRF token it echoes. */
export interface Session {
  jar: CookieJar;
  csrf: string;
  userId: number;
}

/** Invites `email` with `role` as `by` (a bearer tenant), accepts the invite with `password`. */
export async function addUser(env: TestEnv, by: Tenant, email: string, role: 'owner' | 'admin' | 'agent', password = 'correct horse battery'): Promise<number> {
  const invited = await http<{ user: { id: number }; invite_token: string }>(env, 'POST', '/users', { bearer: by.token, body: { email, role } });
  if (invited.status !== 201) throw new Error(`invite ${email}: ${invited.status} ${JSON.stringify(invited.body)}`);
  const accepted = await http(env, 'POST', '/auth/accept-invite', { body: { invite_token: invited.body.invite_token, password } });
  if (accepted.status !== 200) throw new Error(`accept ${email}: ${accepted.status} ${JSON.stringify(accepted.body)}`);
  return invited.body.user.id;
}

export async function signIn(env: TestEnv, email: string, password = 'correct horse battery'): Promise<Session> {
  const jar: CookieJar = new Map();
  const res = await http<{ user: { id: number } }>(env, 'POST', '/auth/login', { body: { email, password }, jar });
  if (res.status !== 200) throw new Error(`login ${email}: ${res.status} ${JSON.stringify(res.body)}`);
  const csrf = jar.get('bh_csrf');
  if (!csrf) throw new Error('no bh_csrf cookie');
  return { jar, csrf, userId: res.body.user.id };
}

/** A bearer token of a user the platform admin adds with a role (scripts' way in). */
export async function tokenWithRole(env: TestEnv, businessId: number, email: string, role: 'owner' | 'admin' | 'agent'): Promise<{ token: string; userId: number }> {
  const res = await fetch(`${env.baseUrl}/api/v1/admin/businesses/${businessId}/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email, role }),
  });
  const body = (await res.json()) as { token: string; user: { id: number } };
  if (res.status !== 201) throw new Error(`add user: ${res.status} ${JSON.stringify(body)}`);
  return { token: body.token, userId: body.user.id };
}
