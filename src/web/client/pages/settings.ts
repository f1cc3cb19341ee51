/// <reference lib="dom" />
import type { CallFlow, DialerSettings, OwnBusiness, VoiceChannel, WhatsAppChannel } from '../../../contract/index.js';
import type { RetryOutcome } from '../../../contract/outbound.js';
import { ApiError, get, patch, put } from '../api.js';
import { PHONE_COUNTRIES } from '../countries.js';
import { clear, field, h, option, type Child } from '../dom.js';
import { currentLang, dateTime, forgetChosenLang, t, type Key } from '../i18n.js';
import { errorBox, type Cleanup } from '../ui.js';

type Control = HTMLInputElement | HTMLSelectElement;

/**
 * Settings (admins and owners; the menu hides it from agents and the API refuses them anyway):
 * the business's country, time zone and language (`PATCH /business`), its calling hours
 * (`PATCH /outbound/settings`, in the business's zone) and call limit (read-only: the platform
 * operator's), its voice channel and its WhatsApp sender (`PUT /channels/…`). Each section saves
 * on its own; a refusal shows the API's message, and each issue next to the field it names.
 * Secrets are never shown: a stored one appears as its "…last4" hint, and an empty field keeps it.
 */
export function settingsPage(main: HTMLElement): Cleanup {
  const abort = new AbortController();
  const sections = h('div', { class: 'settings', 'aria-busy': 'true' }, h('p', { role: 'status' }, t('common.loading')));
  clear(main, h('h1', { tabindex: -1 }, t('settings.title')), h('p', { class: 'muted' }, t('settings.help')), sections);

  void (async () => {
    const [business, dialer, voice, whatsapp] = await Promise.allSettled([
      get<OwnBusiness>('/business', abort.signal),
      get<DialerSettings>('/outbound/settings', abort.signal),
      get<VoiceChannel>('/channels/voice', abort.signal),
      get<WhatsAppChannel>('/channels/whatsapp', abort.signal),
    ]);
    if (abort.signal.aborted) return;
    const zone = new Zone(business.status === 'fulfilled' ? business.value.timezone : dialer.status === 'fulfilled' ? dialer.value.timezone : 'UTC');
    const or = <T>(r: PromiseSettledResult<T>, build: (v: T) => HTMLElement, id: string, title: Key): HTMLElement =>
      r.status === 'fulfilled' ? build(r.value) : section(id, title, errorBox(r.reason));
    clear(sections,
      or(business, (b) => businessSection(b, zone), 'business', 'settings.business'),
      or(dialer, (d) => callingSection(d, zone), 'calling', 'settings.calling'),
      or(dialer, retrySection, 'retry', 'settings.retry'),
      or(dialer, callFlowSection, 'flow', 'flow.title'),
      or(voice, voiceSection, 'voice', 'settings.voice'),
      or(whatsapp, whatsAppSection, 'whatsapp', 'settings.whatsapp'));
    sections.setAttribute('aria-busy', 'false');
  })();

  return () => {
    abort.abort();
    zoneClock.stop();
  };
}

// ---- shared parts -------------------------------------------------------------------------------

function section(id: string, title: Key, ...content: Child[]): HTMLElement {
  return h('section', { class: `settings-${id}`, 'aria-labelledby': `settings-${id}-title` },
    h('h2', { id: `settings-${id}-title` }, t(title)), ...content);
}

const checkbox = (name: string, checked: boolean): HTMLInputElement => h('input', { type: 'checkbox', name, checked });
const checkField = (label: string, input: HTMLInputElement): HTMLElement => h('label', { class: 'check' }, input, ' ', label);
/** Codes, numbers and secrets read left to right in a Hebrew page too. */
const ltrInput = (name: string, value: string, attrs: Record<string, string | boolean> = {}): HTMLInputElement =>
  h('input', { type: 'text', name, value, dir: 'ltr', spellcheck: 'false', autocomplete: 'off', ...attrs });
const secretInput = (name: string): HTMLInputElement =>
  h('input', { type: 'password', name, value: '', dir: 'ltr', spellcheck: 'false', autocomplete: 'new-password' });
const secretNote = (hint: string | null): HTMLElement => h('p', { class: 'muted hint' }, hint ? t('settings.secretStored', { hint }) : t('settings.secretNone'));
const saveButton = (): HTMLButtonElement => h('button', { type: 'submit', class: 'primary' }, t('settings.save'));

/**
 * A section's form and what saving it says. `save` answers what to say when it is done (null:
 * "Saved."); a refusal marks the fields its issues name (`fields` maps an issue's path to one)
 * and shows the API's message.
 */
function saving(form: HTMLFormElement, status: HTMLElement, save: () => Promise<Key | null>, fields: () => Map<string, Control>): void {
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const button = form.querySelector<HTMLButtonElement>('button[type=submit]');
    form.querySelectorAll<HTMLElement>('[aria-invalid]').forEach(unmark);
    form.querySelectorAll('.field-issue').forEach((el) => el.remove());
    if (button) button.disabled = true;
    form.setAttribute('aria-busy', 'true');
    clear(status, h('p', { role: 'status' }, t('settings.saving')));
    void save().then(
      (said) => clear(status, h('p', { role: 'status', class: 'saved' }, t(said ?? 'settings.saved'))),
      (err: unknown) => {
        clear(status, errorBox(err));
        markIssues(err, fields())?.focus();
      },
    ).finally(() => {
      if (button) button.disabled = false;
      form.setAttribute('aria-busy', 'false');
    });
  });
}

/** Each issue of a 400 next to its field; returns the first field marked. */
function markIssues(err: unknown, fields: Map<string, Control>): Control | null {
  if (!(err instanceof ApiError)) return null;
  const issues = Array.isArray(err.details.issues) ? (err.details.issues as Array<{ path?: unknown; message?: unknown }>) : [];
  let first: Control | null = null;
  for (const issue of issues) {
    const control = typeof issue.path === 'string' ? fields.get(issue.path) ?? fields.get(issue.path.replace(/\.[^.]+$/, '')) : undefined;
    if (!control || typeof issue.message !== 'string') continue;
    mark(control, issue.message);
    first ??= control;
  }
  return first;
}

/** The issue's text after the field, read with it (aria-describedby, after what described it before). */
function mark(control: Control, message: string): void {
  const id = `${control.id || control.name}-issue`;
  if (control.dataset.describedBy === undefined) control.dataset.describedBy = control.getAttribute('aria-describedby') ?? '';
  control.setAttribute('aria-invalid', 'true');
  control.setAttribute('aria-describedby', [control.dataset.describedBy, id].filter(Boolean).join(' '));
  control.parentElement?.querySelector(`#${CSS.escape(id)}`)?.remove();
  control.parentElement?.append(h('p', { class: 'field-issue', id }, message));
}

function unmark(control: HTMLElement): void {
  control.removeAttribute('aria-invalid');
  const before = control.dataset.describedBy;
  if (before === undefined) return;
  if (before) control.setAttribute('aria-describedby', before);
  else control.removeAttribute('aria-describedby');
  delete control.dataset.describedBy;
}

/** The business's time zone as the calling section says it: "it is 14:05 there now", kept current. */
class Zone {
  constructor(public name: string) {}

  now(): string {
    try {
      return new Intl.DateTimeFormat(currentLang(), { timeZone: this.name, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date());
    } catch {
      return '—';
    }
  }
}

/** One timer for the "now there" clock of the page on screen. */
const zoneClock = {
  timer: null as ReturnType<typeof setInterval> | null,
  start(tick: () => void): void {
    this.stop();
    this.timer = setInterval(tick, 15_000);
  },
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  },
};
let onZoneChange: (() => void) | null = null;

// ---- Business: country, time zone, language ----------------------------------------------------

function countryOptions(selected: string): HTMLOptionElement[] {
  const names = new Intl.DisplayNames([currentLang()], { type: 'region' });
  const codes = PHONE_COUNTRIES.includes(selected) ? PHONE_COUNTRIES : [...PHONE_COUNTRIES, selected];
  return codes
    .map((code) => ({ code, name: names.of(code) ?? code }))
    .sort((a, b) => a.name.localeCompare(b.name, currentLang()))
    .map((c) => option(c.code, `${c.name} (${c.code})`, c.code === selected));
}

function zoneOptions(selected: string): HTMLOptionElement[] {
  const zones = new Set(Intl.supportedValuesOf('timeZone'));
  zones.add('UTC');
  zones.add(selected);
  return [...zones].sort().map((z) => option(z, z.replace(/_/g, ' '), z === selected));
}

function businessSection(initial: OwnBusiness, zone: Zone): HTMLElement {
  let b = initial;
  const country = h('select', { name: 'default_country' }, countryOptions(b.default_country));
  const timezone = h('select', { name: 'timezone' }, zoneOptions(b.timezone));
  const locale = h('select', { name: 'locale', 'aria-describedby': 'settings-locale-help' },
    option('he', 'עברית', b.locale === 'he'), option('en', 'English', b.locale === 'en'));
  const status = h('div', { class: 'status', 'aria-live': 'polite' });
  const form = h('form', { novalidate: true, 'aria-labelledby': 'settings-business-title' },
    h('p', {}, `${t('settings.name')}: `, h('strong', { class: 'business-name' }, b.name)),
    field(t('settings.country'), country),
    field(t('settings.timezone'), timezone),
    field(t('settings.locale'), locale),
    h('p', { class: 'muted', id: 'settings-locale-help' }, t('settings.localeHelp')),
    saveButton(), status);
  saving(form, status, async () => {
    const change: Record<string, string> = {};
    if (country.value !== b.default_country) change.default_country = country.value;
    if (timezone.value !== b.timezone) change.timezone = timezone.value;
    if (locale.value !== b.locale) change.locale = locale.value;
    if (Object.keys(change).length === 0) return 'settings.unchanged';
    b = await patch<OwnBusiness>('/business', change);
    if (change.locale) {
      // The whole dashboard, in the business's new language: this browser follows the business again.
      forgetChosenLang();
      setTimeout(() => location.reload(), 0);
      return 'settings.reloading';
    }
    zone.name = b.timezone;
    onZoneChange?.();
    return null;
  }, () => new Map<string, Control>([['body.default_country', country], ['body.timezone', timezone], ['body.locale', locale]]));
  return section('business', 'settings.business', form);
}

// ---- Calling: hours in the business's zone, the call limit --------------------------------------

function callingSection(initial: DialerSettings, zone: Zone): HTMLElement {
  let s = initial;
  const useDefault = checkbox('calling_hours_default', s.calling_hours.default);
  const start = ltrInput('calling_hours_start', s.calling_hours.start, { inputmode: 'numeric', placeholder: 'HH:MM', maxlength: '5' });
  const end = ltrInput('calling_hours_end', s.calling_hours.end, { inputmode: 'numeric', placeholder: 'HH:MM', maxlength: '5' });
  const zoneNote = h('p', { class: 'zone-note' });
  const sync = (): void => {
    start.disabled = useDefault.checked;
    end.disabled = useDefault.checked;
    zoneNote.textContent = t('settings.hoursZone', { zone: zone.name, time: zone.now() });
  };
  useDefault.addEventListener('change', sync);
  onZoneChange = sync;
  zoneClock.start(sync);
  sync();
  const status = h('div', { class: 'status', 'aria-live': 'polite' });
  const form = h('form', { novalidate: true, 'aria-labelledby': 'settings-calling-title' },
    zoneNote,
    checkField(t('settings.hoursDefault'), useDefault),
    h('div', { class: 'row' }, field(t('settings.hoursStart'), start), field(t('settings.hoursEnd'), end)),
    h('p', { class: 'call-limit' }, t('settings.callLimit', { n: s.max_outbound_calls }), ' ', h('span', { class: 'muted' }, t('settings.callLimitHelp'))),
    saveButton(), status);
  saving(form, status, async () => {
    let hours: { start: string; end: string } | null;
    if (useDefault.checked) {
      if (s.calling_hours.default) return 'settings.unchanged';
      hours = null;
    } else {
      hours = { start: start.value.trim(), end: end.value.trim() };
      if (!s.calling_hours.default && hours.start === s.calling_hours.start && hours.end === s.calling_hours.end) return 'settings.unchanged';
    }
    s = await patch<DialerSettings>('/outbound/settings', { calling_hours: hours });
    useDefault.checked = s.calling_hours.default;
    start.value = s.calling_hours.start;
    end.value = s.calling_hours.end;
    sync();
    return null;
  }, () => new Map<string, Control>([['body.calling_hours.start', start], ['body.calling_hours.end', end], ['body.calling_hours', start]]));
  return section('calling', 'settings.calling', form);
}

// ---- Retries: per outcome, how many more calls and when ------------------------------------------

/**
 * The retry policy per outcome (`retry.per_outcome` of `PATCH /outbound/settings`): extra
 * attempts, and either a delay (shown in minutes) or "next day" (the next opening of the calling
 * hours in the business's zone). All four rows are sent together; an unchanged policy is not.
 */
/** Every outcome of the contract, in this order (a Record: a new outcome fails to compile until it is here; the contract's values would bundle zod). */
const RETRY_ROWS = Object.keys({ busy: 0, no_answer: 0, machine: 0, voicemail_left: 0 } satisfies Record<RetryOutcome, 0>) as RetryOutcome[];

function retrySection(initial: DialerSettings): HTMLElement {
  let s = initial;
  const rows = new Map<RetryOutcome, { attempts: HTMLInputElement; after: HTMLSelectElement; minutes: HTMLInputElement }>();
  for (const o of RETRY_ROWS) {
    const attempts = h('input', { type: 'number', name: `retry_${o}_attempts`, min: '0', max: '10', step: '1', dir: 'ltr', 'aria-label': `${t(`settings.retry.${o}`)}: ${t('settings.retry.attempts')}` });
    const after = h('select', { name: `retry_${o}_after`, 'aria-label': `${t(`settings.retry.${o}`)}: ${t('settings.retry.when')}` },
      option('delay', t('settings.retry.after.delay')), option('next_day', t('settings.retry.after.next_day')));
    const minutes = h('input', { type: 'number', name: `retry_${o}_minutes`, min: '1', max: '10080', step: '1', dir: 'ltr', 'aria-label': `${t(`settings.retry.${o}`)}: ${t('settings.retry.minutes')}` });
    after.addEventListener('change', () => { minutes.disabled = after.value === 'next_day'; });
    rows.set(o, { attempts, after, minutes });
  }
  /** The body the rows say; what show() put in them is the baseline of "unchanged". */
  const policyOfRows = (): Record<string, { attempts: number; after: 'next_day' } | { attempts: number; delay_s: number }> => {
    const num = (input: HTMLInputElement): number => (input.value.trim() === '' ? NaN : Number(input.value));
    return Object.fromEntries([...rows].map(([o, r]) => [o, r.after.value === 'next_day'
      ? { attempts: num(r.attempts), after: 'next_day' as const }
      : { attempts: num(r.attempts), delay_s: num(r.minutes) * 60 }]));
  };
  let shown = '';
  const show = (): void => {
    for (const [o, r] of rows) {
      const p = s.retry.per_outcome[o];
      r.attempts.value = String(p.attempts);
      r.after.value = p.after;
      r.minutes.value = String(Math.max(1, Math.round((p.delay_s ?? s.retry.delay_s) / 60)));
      r.minutes.disabled = p.after === 'next_day';
    }
    shown = JSON.stringify(policyOfRows());
  };
  show();
  const status = h('div', { class: 'status', 'aria-live': 'polite' });
  const form = h('form', { novalidate: true, 'aria-labelledby': 'settings-retry-title' },
    h('p', { class: 'muted' }, t('settings.retry.help')),
    h('table', { class: 'retry-policy' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('settings.retry.outcome')), h('th', { scope: 'col' }, t('settings.retry.attempts')),
        h('th', { scope: 'col' }, t('settings.retry.when')), h('th', { scope: 'col' }, t('settings.retry.minutes')))),
      h('tbody', {}, [...rows].map(([o, r]) => h('tr', { 'data-outcome': o },
        h('th', { scope: 'row' }, t(`settings.retry.${o}`)), h('td', {}, r.attempts), h('td', {}, r.after), h('td', {}, r.minutes))))),
    saveButton(), status);
  saving(form, status, async () => {
    const perOutcome = policyOfRows();
    if (JSON.stringify(perOutcome) === shown) return 'settings.unchanged';
    s = await patch<DialerSettings>('/outbound/settings', { retry: { per_outcome: perOutcome } });
    show();
    return null;
  }, () => new Map<string, Control>([...rows].flatMap(([o, r]) => [
    [`body.retry.per_outcome.${o}.attempts`, r.attempts], [`body.retry.per_outcome.${o}.after`, r.after],
    [`body.retry.per_outcome.${o}.delay_s`, r.minutes], [`body.retry.per_outcome.${o}`, r.attempts]] as Array<[string, Control]>)));
  return section('retry', 'settings.retry', form);
}

// ---- Call flow: what a lead hears once answered ------------------------------------------------

type OnMachine = NonNullable<CallFlow['on_machine']>;

/** "+972…, +972…" (commas, spaces or new lines) → the numbers. */
const numbersOf = (raw: string): string[] => raw.split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean);
const optional = (raw: string): string | undefined => raw.trim() || undefined;

/**
 * The business's call flow (`call_flow` of `PATCH /outbound/settings`): connect the lead to
 * agents, play a message (optionally "press 1" to agents), or hand the call to the business's
 * own TwiML URL; what to do when a machine answers. Press 9 (do not call again) is in every flow
 * and cannot be turned off, so the section only says so.
 */
function callFlowSection(initial: DialerSettings): HTMLElement {
  let s = initial;
  const useDefault = checkbox('call_flow_default', s.call_flow_default);
  const kind = h('select', { name: 'call_flow.kind' },
    option('message', t('flow.kind.message')), option('connect', t('flow.kind.connect')), option('webhook', t('flow.kind.webhook')));
  // connect
  const agents = ltrInput('call_flow.agents', '', { inputmode: 'tel', placeholder: '+972…' });
  const strategy = h('select', { name: 'call_flow.strategy' }, option('simultaneous', t('flow.strategy.simultaneous')), option('sequential', t('flow.strategy.sequential')));
  const ring = ltrInput('call_flow.ring_s', '', { inputmode: 'numeric', maxlength: '3' });
  // message
  const say = h('input', { type: 'text', name: 'call_flow.say', dir: 'auto', maxlength: 1000 });
  const playUrl = ltrInput('call_flow.play_url', '', { type: 'url', placeholder: 'https://…' });
  const language = h('select', { name: 'call_flow.language' }, option('', t('flow.language.business')), option('he-IL', 'עברית (he-IL)'), option('en-US', 'English (en-US)'));
  const press1 = ltrInput('call_flow.press_1_connect_to', '', { inputmode: 'tel', placeholder: '+972…' });
  // webhook
  const url = ltrInput('call_flow.url', '', { type: 'url', placeholder: 'https://…' });
  // on machine
  const onMachine = h('select', { name: 'call_flow.on_machine' }, option('hangup', t('flow.machine.hangup')), option('voicemail', t('flow.machine.voicemail')));
  const vmSay = h('input', { type: 'text', name: 'call_flow.on_machine.voicemail.say', dir: 'auto', maxlength: 1000 });
  const vmPlay = ltrInput('call_flow.on_machine.voicemail.play_url', '', { type: 'url', placeholder: 'https://…' });

  const connectSet = h('fieldset', { class: 'flow-connect' }, h('legend', {}, t('flow.kind.connect')),
    field(t('flow.agents'), agents), h('p', { class: 'muted' }, t('flow.agentsHelp')),
    h('div', { class: 'row' }, field(t('flow.strategy'), strategy), field(t('flow.ring'), ring)));
  const messageSet = h('fieldset', { class: 'flow-message' }, h('legend', {}, t('flow.kind.message')),
    field(t('flow.say'), say), field(t('flow.playUrl'), playUrl), field(t('flow.language'), language),
    field(t('flow.press1'), press1), h('p', { class: 'muted' }, t('flow.press1Help')));
  const webhookSet = h('fieldset', { class: 'flow-webhook' }, h('legend', {}, t('flow.kind.webhook')),
    field(t('flow.url'), url), h('p', { class: 'muted' }, t('flow.urlHelp')));
  const vmFields = h('div', { class: 'flow-voicemail' }, field(t('flow.vmSay'), vmSay), field(t('flow.vmPlayUrl'), vmPlay));
  const machineSet = h('fieldset', { class: 'flow-machine' }, h('legend', {}, t('flow.machine')), field(t('flow.machineDo'), onMachine), vmFields);
  const editor = h('div', { class: 'flow-editor' }, field(t('flow.kind'), kind), connectSet, messageSet, webhookSet, machineSet);

  const sync = (): void => {
    editor.hidden = useDefault.checked;
    connectSet.hidden = kind.value !== 'connect';
    messageSet.hidden = kind.value !== 'message';
    webhookSet.hidden = kind.value !== 'webhook';
    vmFields.hidden = onMachine.value !== 'voicemail';
  };
  const fill = (): void => {
    const f = s.call_flow;
    useDefault.checked = s.call_flow_default;
    kind.value = f.kind;
    agents.value = f.kind === 'connect' ? f.agents.join(', ') : '';
    strategy.value = f.kind === 'connect' ? f.strategy : 'simultaneous';
    ring.value = f.kind === 'connect' && f.ring_s !== undefined ? String(f.ring_s) : '';
    say.value = f.kind === 'message' ? f.say ?? '' : '';
    playUrl.value = f.kind === 'message' ? f.play_url ?? '' : '';
    language.value = f.kind === 'message' ? f.language ?? '' : '';
    press1.value = f.kind === 'message' ? (f.press_1_connect_to ?? []).join(', ') : '';
    url.value = f.kind === 'webhook' ? f.url : '';
    const m: OnMachine = f.on_machine ?? 'hangup';
    onMachine.value = m === 'hangup' ? 'hangup' : 'voicemail';
    vmSay.value = m === 'hangup' ? '' : m.voicemail.say ?? '';
    vmPlay.value = m === 'hangup' ? '' : m.voicemail.play_url ?? '';
    sync();
  };
  [useDefault, kind, onMachine].forEach((c) => c.addEventListener('change', sync));
  fill();

  const build = (): CallFlow => {
    const machine: OnMachine = onMachine.value === 'voicemail'
      ? { voicemail: { ...(optional(vmSay.value) ? { say: vmSay.value.trim() } : {}), ...(optional(vmPlay.value) ? { play_url: vmPlay.value.trim() } : {}) } }
      : 'hangup';
    if (kind.value === 'connect') {
      const ringS = ring.value.trim() === '' ? undefined : Number(ring.value.trim());
      return { kind: 'connect', agents: numbersOf(agents.value), strategy: strategy.value === 'sequential' ? 'sequential' : 'simultaneous', ...(ringS === undefined ? {} : { ring_s: ringS }), on_machine: machine };
    }
    if (kind.value === 'webhook') return { kind: 'webhook', url: url.value.trim(), on_machine: machine };
    const lang = language.value === 'he-IL' || language.value === 'en-US' ? language.value : undefined;
    const press = numbersOf(press1.value);
    return {
      kind: 'message',
      ...(optional(say.value) ? { say: say.value.trim() } : {}),
      ...(optional(playUrl.value) ? { play_url: playUrl.value.trim() } : {}),
      ...(lang ? { language: lang } : {}),
      ...(press.length ? { press_1_connect_to: press } : {}),
      on_machine: machine,
    };
  };

  const status = h('div', { class: 'status', 'aria-live': 'polite' });
  const form = h('form', { novalidate: true, 'aria-labelledby': 'settings-flow-title' },
    h('p', { class: 'muted' }, t('flow.help')),
    checkField(t('flow.useDefault'), useDefault),
    editor,
    h('p', { class: 'flow-press9' }, t('flow.press9')),
    saveButton(), status);
  saving(form, status, async () => {
    let body: CallFlow | null;
    if (useDefault.checked) {
      if (s.call_flow_default) return 'settings.unchanged';
      body = null;
    } else {
      body = build();
      if (!s.call_flow_default && JSON.stringify(body) === JSON.stringify(s.call_flow)) return 'settings.unchanged';
    }
    s = await patch<DialerSettings>('/outbound/settings', { call_flow: body });
    fill();
    return null;
  }, () => new Map<string, Control>([
    ['body.call_flow', kind.value === 'message' ? say : kind.value === 'connect' ? agents : url],
    ['body.call_flow.kind', kind],
    ['body.call_flow.agents', agents],
    ['body.call_flow.strategy', strategy],
    ['body.call_flow.ring_s', ring],
    ['body.call_flow.say', say],
    ['body.call_flow.play_url', playUrl],
    ['body.call_flow.language', language],
    ['body.call_flow.press_1_connect_to', press1],
    ['body.call_flow.url', url],
    ['body.call_flow.on_machine', onMachine],
    ['body.call_flow.on_machine.voicemail', vmSay],
    ['body.call_flow.on_machine.voicemail.say', vmSay],
    ['body.call_flow.on_machine.voicemail.play_url', vmPlay],
  ]));
  return section('flow', 'flow.title', form);
}

// ---- Voice channel: caller ids, the business's own Twilio subaccount ----------------------------

function voiceSection(initial: VoiceChannel): HTMLElement {
  const status = h('div', { class: 'status', 'aria-live': 'polite' });
  const box = h('div');
  let v = initial;
  let inputs: HTMLInputElement[] = [];
  /** The inputs whose values were sent, in the order sent: `body.caller_ids.2` is the third of these. */
  let sent: HTMLInputElement[] = [];
  const list = h('ol', { class: 'caller-ids' });
  const none = h('p', { class: 'muted' }, t('settings.callerIdsNone'));

  const drawIds = (values: string[], focus: number | null = null): void => {
    inputs = values.map((value, i) => ltrInput(`caller_ids.${i}`, value, { inputmode: 'tel', class: 'phone' }));
    clear(list, inputs.map((input, i) => h('li', {},
      field(t('settings.callerId', { n: i + 1 }), input),
      h('button', { type: 'button', class: 'secondary remove', 'aria-label': t('settings.callerIdRemove', { n: i + 1 }), onclick: () => {
        const rest = inputs.map((x) => x.value).filter((_, j) => j !== i);
        drawIds(rest, Math.min(i, rest.length - 1));
      } }, t('settings.remove')))));
    none.hidden = inputs.length > 0;
    if (focus !== null && focus >= 0) inputs[focus]?.focus();
  };
  const add = h('button', { type: 'button', class: 'secondary add', onclick: () => drawIds([...inputs.map((x) => x.value), ''], inputs.length) }, t('settings.callerIdAdd'));

  const own = checkbox('twilio_own', v.twilio !== null);
  const sid = ltrInput('twilio.account_sid', v.twilio?.account_sid ?? '', { placeholder: 'AC…' });
  const token = secretInput('twilio.auth_token');
  const tokenNote = secretNote(v.twilio?.auth_token ?? null);
  const twilio = h('fieldset', { class: 'twilio' }, h('legend', {}, 'Twilio'),
    checkField(t('settings.twilioOwn'), own), field(t('settings.accountSid'), sid), field(t('settings.authToken'), token), tokenNote);
  const syncOwn = (): void => {
    sid.disabled = !own.checked;
    token.disabled = !own.checked;
  };
  own.addEventListener('change', syncOwn);

  const redraw = (): void => {
    drawIds(v.caller_ids);
    own.checked = v.twilio !== null;
    sid.value = v.twilio?.account_sid ?? '';
    token.value = '';
    clear(tokenNote, v.twilio ? t('settings.secretStored', { hint: v.twilio.auth_token }) : t('settings.secretNone'));
    syncOwn();
    clear(box, v.updated_at ? h('p', { class: 'muted' }, t('settings.lastChanged', { when: dateTime(v.updated_at) })) : null);
  };
  redraw();

  const form = h('form', { novalidate: true, 'aria-labelledby': 'settings-voice-title' },
    box,
    h('fieldset', { class: 'caller-ids' }, h('legend', {}, t('settings.callerIds')), h('p', { class: 'muted' }, t('settings.callerIdsHelp')), list, none, add),
    twilio, saveButton(), status);
  saving(form, status, async () => {
    sent = inputs.filter((x) => x.value.trim() !== '');
    const callerIds = sent.map((x) => x.value.trim());
    const account = own.checked
      // An empty token field keeps the stored token: its hint sent back says so (the API checks it is this account's).
      ? { account_sid: sid.value.trim(), auth_token: token.value.trim() || v.twilio?.auth_token || '' }
      : null;
    const sameIds = callerIds.length === v.caller_ids.length && callerIds.every((c, i) => c === v.caller_ids[i]);
    const sameAccount = account === null ? v.twilio === null : v.twilio !== null && account.account_sid === v.twilio.account_sid && account.auth_token === v.twilio.auth_token;
    if (sameIds && sameAccount) return 'settings.unchanged';
    try {
      v = await put<VoiceChannel>('/channels/voice', { caller_ids: callerIds, twilio: account });
    } catch (err) {
      // 409: numbers of another business, named in the details.
      if (err instanceof ApiError && Array.isArray(err.details.caller_ids)) {
        const taken = new Set(err.details.caller_ids as string[]);
        for (const x of sent) if (taken.has(x.value.trim())) mark(x, err.message);
      }
      throw err;
    }
    redraw();
    return null;
  }, () => new Map<string, Control>([
    ...sent.map((x, i) => [`body.caller_ids.${i}`, x] as [string, Control]),
    ['body.caller_ids', inputs[0] ?? sid],
    ['body.twilio.account_sid', sid],
    ['body.twilio.auth_token', token],
  ]));
  return section('voice', 'settings.voice', form);
}

// ---- WhatsApp channel: the business's own sender -----------------------------------------------

function whatsAppSection(initial: WhatsAppChannel): HTMLElement {
  let w = initial;
  const status = h('div', { class: 'status', 'aria-live': 'polite' });
  const about = h('p', { class: 'sender' });
  const phone = ltrInput('phone_number_id', '', { inputmode: 'numeric' });
  const access = secretInput('access_token');
  const accessNote = secretNote(null);
  const secret = secretInput('app_secret');
  const secretNoteEl = secretNote(null);
  const drop = checkbox('app_secret_drop', false);
  const dropField = checkField(t('settings.appSecretDrop'), drop);
  drop.addEventListener('change', () => (secret.disabled = drop.checked));

  const redraw = (): void => {
    clear(about, w.own ? t('settings.whatsappOwn') : t('settings.whatsappShared', { id: w.phone_number_id }),
      w.updated_at ? [' ', h('span', { class: 'muted' }, t('settings.lastChanged', { when: dateTime(w.updated_at) }))] : null);
    phone.value = w.own ? w.phone_number_id : '';
    access.value = '';
    secret.value = '';
    secret.disabled = false;
    drop.checked = false;
    dropField.hidden = w.app_secret === null;
    clear(accessNote, w.access_token ? t('settings.secretStored', { hint: w.access_token }) : t('settings.secretNone'));
    clear(secretNoteEl, w.app_secret ? t('settings.secretStored', { hint: w.app_secret }) : t('settings.secretNone'));
  };
  redraw();

  const form = h('form', { novalidate: true, 'aria-labelledby': 'settings-whatsapp-title' },
    about,
    field(t('settings.phoneNumberId'), phone),
    field(t('settings.accessToken'), access), accessNote,
    field(t('settings.appSecret'), secret), secretNoteEl, dropField,
    saveButton(), status);
  saving(form, status, async () => {
    const id = phone.value.trim();
    const newAccess = access.value.trim();
    const newSecret = secret.value.trim();
    if (w.own && id === w.phone_number_id && newAccess === '' && newSecret === '' && !drop.checked) return 'settings.unchanged';
    // Empty secret fields keep the stored secrets: their hints sent back say so (the API checks they are this number's).
    const body = {
      phone_number_id: id,
      access_token: newAccess || w.access_token || '',
      app_secret: drop.checked ? null : newSecret || w.app_secret || null,
    };
    w = await put<WhatsAppChannel>('/channels/whatsapp', body);
    redraw();
    return null;
  }, () => new Map<string, Control>([['body.phone_number_id', phone], ['body.access_token', access], ['body.app_secret', secret]]));
  return section('whatsapp', 'settings.whatsapp', form);
}
