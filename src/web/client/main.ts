/// <reference lib="dom" />
import { answerIn, ApiError, getToken, setToken, whenUnauthorized } from './api.js';
import { clear, field, h, option } from './dom.js';
import { applyLang, currentLang, followBusinessLang, setLang, t, time, type Key, type Lang } from './i18n.js';
import { auditPage } from './pages/audit.js';
import { broadcastsPage } from './pages/broadcasts.js';
import { callsPage } from './pages/calls.js';
import { jobsPage } from './pages/jobs.js';
import { leadsPage } from './pages/leads.js';
import { receiptsPage } from './pages/receipts.js';
import { settingsPage } from './pages/settings.js';
import { tokensPage } from './pages/tokens.js';
import { trashPage } from './pages/trash.js';
import { usersPage } from './pages/users.js';
import { acceptInvite, can, forget, logIn, resume, signedInAs, signOut, useToken, type Role } from './session.js';
import { errorBox, errorText, roleName, type Cleanup } from './ui.js';

export type PageRender = (main: HTMLElement, params: URLSearchParams) => Cleanup;

/** `role`: the least role that sees the page in the menu; the API refuses the rest anyway. */
const PAGES: Record<string, { title: Key; render: PageRender; role: Role }> = {
  leads: { title: 'nav.leads', render: leadsPage, role: 'agent' },
  jobs: { title: 'nav.jobs', render: jobsPage, role: 'agent' },
  calls: { title: 'nav.calls', render: callsPage, role: 'agent' },
  broadcasts: { title: 'nav.broadcasts', render: broadcastsPage, role: 'agent' },
  receipts: { title: 'nav.receipts', render: receiptsPage, role: 'agent' },
  users: { title: 'nav.users', render: usersPage, role: 'admin' },
  tokens: { title: 'nav.tokens', render: tokensPage, role: 'admin' },
  audit: { title: 'nav.audit', render: auditPage, role: 'admin' },
  trash: { title: 'nav.trash', render: trashPage, role: 'admin' },
  settings: { title: 'nav.settings', render: settingsPage, role: 'admin' },
};

const root = document.getElementById('app') ?? document.body;
const noop: Cleanup = () => undefined;
let cleanup: Cleanup = noop;
/** An invitation token taken from `#invite=…`, until its password is set (or the user leaves). */
let invite: string | null = null;

/** `#/jobs?id=3` → ['jobs', {id: 3}]. */
function route(): [string, URLSearchParams] {
  const [path = '', search = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return [path in PAGES ? path : 'leads', new URLSearchParams(search)];
}

function stop(): void {
  cleanup();
  cleanup = noop;
}

function render(): void {
  stop();
  const me = signedInAs();
  if (me) followBusinessLang(me.business.locale);
  applyLang();
  if (invite !== null) return inviteForm(invite);
  if (!me) return void start();
  const [name, params] = route();
  const page = PAGES[name] ?? PAGES.leads;
  if (!page) return;
  const main = h('main', { id: 'main', tabindex: -1 });
  clear(root,
    h('a', { class: 'skip', href: '#main', onclick: (e: Event) => {
      e.preventDefault();
      main.focus();
    } }, t('app.skip')),
    h('header', {},
      h('span', { class: 'brand' }, t('app.title')),
      h('nav', { 'aria-label': t('nav.label') }, h('ul', {}, Object.entries(PAGES).filter(([, p]) => can(p.role)).map(([key, p]) =>
        h('li', {}, h('a', { href: `#/${key}`, 'aria-current': key === name ? 'page' : false }, t(p.title)))))),
      h('div', { class: 'tools' },
        h('span', { class: 'who', 'data-role': me.user.role }, t('who', { email: me.user.email, role: roleName(me.user.role), business: me.business.name })),
        languagePicker(render),
        h('button', { type: 'button', class: 'secondary signout', onclick: () => {
          stop();
          void signOut().then(() => signIn('password'));
        } }, t('signout'))),
    ),
    main,
  );
  if (!can(page.role)) {
    // Reached by a typed or old link: say why instead of showing a page whose requests all fail.
    clear(main, h('h1', { tabindex: -1 }, t(page.title)), h('p', { class: 'error', role: 'alert' }, t('page.forbidden', { role: roleName(me.user.role) })));
    return;
  }
  cleanup = page.render(main, params);
}

function languagePicker(redraw: () => void): HTMLElement {
  const lang = h('select', { onchange: (e: Event) => {
    setLang((e.target as HTMLSelectElement).value as Lang);
    redraw();
    document.querySelector<HTMLSelectElement>('#lang')?.focus();
  } }, option('en', 'English', currentLang() === 'en'), option('he', 'עברית', currentLang() === 'he'));
  lang.id = 'lang';
  return field(t('lang.label'), lang);
}

let starting: Promise<void> | null = null;

/** Nobody known yet: ask the server whether the stored token or a session cookie is still good. */
function start(): Promise<void> {
  starting ??= (async () => {
    clear(root, h('main', { id: 'main' }, h('p', { role: 'status' }, t('common.loading'))));
    try {
      const hadToken = getToken() !== null;
      if (await resume()) render();
      else {
        forget();
        signIn(hadToken ? 'token' : 'password', hadToken ? 'signin.bad' : null);
      }
    } catch (err) {
      clear(root, h('main', { id: 'main' },
        h('p', { class: 'error', role: 'alert' }, t('signin.unreachable', { message: errorText(err) })),
        h('button', { type: 'button', onclick: () => render() }, t('signin.retry'))));
    } finally {
      starting = null;
    }
  })();
  return starting;
}

/**
 * The sign-in page: email and password first; a pasted API token ("Use an API token") second,
 * for owners of scripts and the link `npm start` prints.
 */
function signIn(mode: 'password' | 'token', notice: Key | null = null): void {
  stop();
  applyLang();
  const status = h('div', { 'aria-live': 'assertive' }, notice ? h('p', { class: 'error', role: 'alert' }, t(notice)) : null);
  const say = (content: HTMLElement | null) => clear(status, content);
  const submit = h('button', { type: 'submit', class: 'primary' }, t('signin.submit'));
  let first: HTMLInputElement;
  let form: HTMLFormElement;
  if (mode === 'password') {
    const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, spellcheck: 'false', dir: 'ltr' });
    const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
    first = email;
    form = h('form', { class: 'signin', onsubmit: (e: Event) => {
      e.preventDefault();
      void busy(submit, say, async () => {
        try {
          await logIn(email.value.trim(), password.value);
          render();
        } catch (err) {
          password.value = '';
          password.focus();
          throw err;
        }
      });
    } },
    h('h1', {}, t('signin.title')),
    field(t('signin.email'), email),
    field(t('signin.password'), password),
    submit,
    status,
    h('button', { type: 'button', class: 'link', onclick: () => signIn('token') }, t('signin.useToken')));
  } else {
    const token = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
    first = token;
    form = h('form', { class: 'signin', onsubmit: (e: Event) => {
      e.preventDefault();
      const value = token.value.trim();
      if (!value) return;
      void busy(submit, say, async () => {
        await useToken(value);
        render();
      }, (err) => err instanceof ApiError && err.status === 401 ? signInAlert(err, t('signin.bad')) : signInError(err));
    } },
    h('h1', {}, t('signin.title')),
    h('h2', {}, t('signin.tokenTitle')),
    h('p', {}, t('signin.help')),
    field(t('signin.token'), token),
    submit,
    status,
    h('button', { type: 'button', class: 'link', onclick: () => signIn('password') }, t('signin.usePassword')));
  }
  clear(root, h('main', { id: 'main' }, h('div', { class: 'tools' }, languagePicker(() => signIn(mode, notice))), form));
  first.focus();
}

/** Runs a sign-in step with its button disabled, saying "signing in…", then the error if any. */
async function busy(
  button: HTMLButtonElement,
  say: (content: HTMLElement | null) => void,
  step: () => Promise<void>,
  explain: (err: unknown) => HTMLElement = signInError,
): Promise<void> {
  button.disabled = true;
  say(h('p', { role: 'status' }, t('signin.busy')));
  try {
    await step();
  } catch (err) {
    say(explain(err));
  } finally {
    button.disabled = false;
  }
}

const signInAlert = (err: ApiError, text: string): HTMLElement => h('p', { class: 'error', role: 'alert', 'data-code': err.code }, text);

function signInError(err: unknown): HTMLElement {
  if (!(err instanceof ApiError)) return errorBox(err);
  if (err.code === 'invalid_credentials') return signInAlert(err, t('signin.wrong'));
  if (err.code === 'too_many_attempts') {
    const s = err.retryAfterS ?? 60;
    return signInAlert(err, t('signin.tooMany', { s, time: time(new Date(Date.now() + s * 1000)) }));
  }
  return signInAlert(err, errorText(err));
}

/** A used or expired invitation; whether that is a 404 or a 410 is the server's choice. */
function inviteError(err: unknown): HTMLElement {
  if (err instanceof ApiError && (err.code === 'invalid_invite' || err.status === 404 || err.status === 410)) return signInAlert(err, t('invite.invalid'));
  return signInError(err);
}

/** `#invite=…`: the invited person chooses a password, and is signed in with it. */
function inviteForm(token: string): void {
  const password = h('input', { type: 'password', name: 'new-password', autocomplete: 'new-password', required: true, minlength: 10 });
  const repeat = h('input', { type: 'password', name: 'repeat-password', autocomplete: 'new-password', required: true, minlength: 10 });
  const status = h('div', { 'aria-live': 'assertive' });
  const say = (content: HTMLElement | null) => clear(status, content);
  const submit = h('button', { type: 'submit', class: 'primary' }, t('invite.submit'));
  const invalid = (input: HTMLInputElement, key: Key) => {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    say(h('p', { class: 'error', role: 'alert' }, t(key)));
  };
  const form = h('form', { class: 'signin invite', novalidate: true, onsubmit: (e: Event) => {
    e.preventDefault();
    password.removeAttribute('aria-invalid');
    repeat.removeAttribute('aria-invalid');
    // Said here, in the page's language, before the server says it in its own words.
    if (password.value.length < 10) return invalid(password, 'invite.short');
    if (password.value !== repeat.value) return invalid(repeat, 'invite.mismatch');
    void busy(submit, say, async () => {
      const { user } = await acceptInvite(token, password.value);
      // The invitation is spent now: should signing in fail, the ordinary sign-in page follows.
      invite = null;
      await logIn(user.email, password.value).catch(() => forget());
      render();
    }, inviteError);
  } },
  h('h1', {}, t('invite.title')),
  h('p', {}, t('invite.help')),
  field(t('invite.password'), password),
  field(t('invite.repeat'), repeat),
  submit,
  status,
  h('button', { type: 'button', class: 'link', onclick: () => {
    invite = null;
    render();
  } }, t('invite.toSignIn')));
  clear(root, h('main', { id: 'main' }, h('div', { class: 'tools' }, languagePicker(() => inviteForm(token))), form));
  password.focus();
}

/**
 * `npm start` prints `http://HOST:PORT/#token=…`, and an invitation is `…/#invite=…`: the
 * fragment never reaches a server or a log. Either is taken into the page and removed from the
 * address bar (and so from the history) at once.
 */
function takeSecretsFromLink(): void {
  const tokenMatch = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  const inviteMatch = /(?:^#|&)invite=([^&]+)/.exec(location.hash);
  if (tokenMatch?.[1]) {
    forget();
    setToken(decodeURIComponent(tokenMatch[1]));
  }
  if (inviteMatch?.[1]) invite = decodeURIComponent(inviteMatch[1]);
  if (tokenMatch || inviteMatch) history.replaceState(null, '', `${location.pathname}${location.search}#/leads`);
}

answerIn(currentLang);
whenUnauthorized(() => {
  const hadToken = getToken() !== null;
  forget();
  signIn(hadToken ? 'token' : 'password', hadToken ? 'signin.bad' : 'signin.expired');
});
takeSecretsFromLink();
window.addEventListener('hashchange', () => {
  takeSecretsFromLink();
  render();
  document.getElementById('main')?.querySelector<HTMLElement>('h1')?.focus();
});
render();
