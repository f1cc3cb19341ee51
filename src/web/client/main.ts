/// <reference lib="dom" />
import { getToken, request, setToken, whenUnauthorized } from './api.js';
import { clear, field, h, option } from './dom.js';
import { applyLang, currentLang, setLang, t, type Key, type Lang } from './i18n.js';
import { broadcastsPage } from './pages/broadcasts.js';
import { callsPage } from './pages/calls.js';
import { jobsPage } from './pages/jobs.js';
import { leadsPage } from './pages/leads.js';
import type { Cleanup } from './ui.js';

export type PageRender = (main: HTMLElement, params: URLSearchParams) => Cleanup;

const PAGES: Record<string, { title: Key; render: PageRender }> = {
  leads: { title: 'nav.leads', render: leadsPage },
  jobs: { title: 'nav.jobs', render: jobsPage },
  calls: { title: 'nav.calls', render: callsPage },
  broadcasts: { title: 'nav.broadcasts', render: broadcastsPage },
};

const root = document.getElementById('app') ?? document.body;
let cleanup: Cleanup = () => undefined;

/** `#/jobs?id=3` → ['jobs', {id: 3}]. */
function route(): [string, URLSearchParams] {
  const [path = '', search = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return [path in PAGES ? path : 'leads', new URLSearchParams(search)];
}

function render(): void {
  cleanup();
  cleanup = () => undefined;
  applyLang();
  if (!getToken()) return signIn();
  const [name, params] = route();
  const page = PAGES[name] ?? PAGES.leads;
  if (!page) return;
  const main = h('main', { id: 'main', tabindex: -1 });
  const lang = h('select', { onchange: (e: Event) => {
    setLang((e.target as HTMLSelectElement).value as Lang);
    render();
    document.querySelector<HTMLSelectElement>('#lang')?.focus();
  } }, option('en', 'English', currentLang() === 'en'), option('he', 'עברית', currentLang() === 'he'));
  lang.id = 'lang';
  clear(root,
    h('a', { class: 'skip', href: '#main', onclick: (e: Event) => {
      e.preventDefault();
      main.focus();
    } }, t('app.skip')),
    h('header', {},
      h('span', { class: 'brand' }, t('app.title')),
      h('nav', { 'aria-label': t('nav.label') }, h('ul', {}, Object.entries(PAGES).map(([key, p]) =>
        h('li', {}, h('a', { href: `#/${key}`, 'aria-current': key === name ? 'page' : false }, t(p.title)))))),
      h('div', { class: 'tools' }, field(t('lang.label'), lang),
        h('button', { type: 'button', class: 'secondary', onclick: () => {
          setToken(null);
          render();
        } }, t('signout'))),
    ),
    main,
  );
  cleanup = page.render(main, params);
}

function signIn(error = false): void {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  const status = h('div', { 'aria-live': 'assertive' }, error ? h('p', { class: 'error', role: 'alert' }, t('signin.bad')) : null);
  const form = h('form', { class: 'signin', onsubmit: (e: Event) => {
    e.preventDefault();
    void tryToken(input.value.trim(), status);
  } },
  h('h1', {}, t('signin.title')),
  h('p', {}, t('signin.help')),
  field(t('signin.token'), input),
  h('button', { type: 'submit', class: 'primary' }, t('signin.submit')),
  status);
  const lang = h('select', { onchange: (e: Event) => {
    setLang((e.target as HTMLSelectElement).value as Lang);
    signIn(error);
  } }, option('en', 'English', currentLang() === 'en'), option('he', 'עברית', currentLang() === 'he'));
  lang.id = 'lang';
  clear(root, h('main', { id: 'main' }, h('div', { class: 'tools' }, field(t('lang.label'), lang)), form));
  input.focus();
}

async function tryToken(token: string, status: HTMLElement): Promise<void> {
  if (!token) return;
  try {
    await request('GET', '/jobs?limit=1', { token });
  } catch {
    clear(status, h('p', { class: 'error', role: 'alert' }, t('signin.bad')));
    return;
  }
  setToken(token);
  render();
}

/**
 * `npm start` prints `http://HOST:PORT/#token=…`: the fragment never reaches a server or a log.
 * It is taken into storage and removed from the address bar at once.
 */
function takeTokenFromLink(): void {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m?.[1]) return;
  setToken(decodeURIComponent(m[1]));
  history.replaceState(null, '', `${location.pathname}${location.search}#/leads`);
}

whenUnauthorized(() => {
  setToken(null);
  cleanup();
  cleanup = () => undefined;
  signIn(true);
});
takeTokenFromLink();
window.addEventListener('hashchange', () => {
  takeTokenFromLink();
  render();
  document.getElementById('main')?.querySelector<HTMLElement>('h1')?.focus();
});
render();
