import type { ParsedMail } from './gmail-message.js';

/*
 * What a receipt mail says: vendor, amount and currency, issue date, subject. Pure functions;
 * a mail that cannot be read as a receipt is skipped with a reason code, never guessed at.
 */

/** Why a message made no receipt (counted on the job's result by code). */
export const SKIP_REASONS = ['not_a_receipt', 'no_amount', 'ambiguous_amount', 'no_currency'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface ExtractedReceipt {
  vendor: string;
  /** Decimal text with two places ("1234.50"): PostgreSQL, not float formatting, owns the digits. */
  amount: string;
  /** ISO 4217. */
  currency: string;
  issuedAt: Date;
  subject: string;
}

export type Extraction = { ok: true; receipt: ExtractedReceipt } | { ok: false; reason: SkipReason };

/**
 * Gmail's search for the first sync (users.messages.list q): the words of a receipt or an
 * invoice in Hebrew and English, over the last 12 months. Extraction still decides per message.
 */
export const RECEIPT_QUERY = 'newer_than:12m {קבלה חשבונית "חשבונית מס" receipt invoice "payment confirmation"}';

const HEB = '\u05d0-\u05ea';
/** A Hebrew word may carry one or two prefix letters (ה, ב, ל, ו, מ, ש, כ) — "הקבלה", "ולחשבונית" — but "התקבלה" (was received) is not "קבלה". */
const HEBREW_RECEIPT = new RegExp(`(?:^|[^${HEB}])[והבלמשכ]{0,2}(?:קבלה|קבלות|חשבונית|חשבוניות)(?![${HEB}])`);
const ENGLISH_RECEIPT = /\b(?:receipts?|invoices?|payment confirmation|payment received)\b/i;

/** Whether the subject or the text says "receipt" or "invoice" in Hebrew or English. */
export function looksLikeReceipt(subject: string, text: string): boolean {
  return [subject, text].some((s) => HEBREW_RECEIPT.test(s) || ENGLISH_RECEIPT.test(s));
}

const CURRENCY_TOKENS: ReadonlyArray<[RegExp, string]> = [
  [/^(?:₪|ש["״']ח|שח|ils|nis)$/i, 'ILS'],
  [/^(?:\$|us\$|usd)$/i, 'USD'],
  [/^(?:€|eur)$/i, 'EUR'],
  [/^(?:£|gbp)$/i, 'GBP'],
];
const CUR = String.raw`₪|ש["״']ח|\bILS\b|\bNIS\b|US\$|\$|\bUSD\b|€|\bEUR\b|£|\bGBP\b`;
const NUM = String.raw`\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?`;
const MONEY = new RegExp(String.raw`(?:(${CUR})\s?(${NUM})(?![\d])|(?<![\d.,])(${NUM})\s?(${CUR}))`, 'gi');
const BARE_NUMBER = new RegExp(String.raw`(?<![\d.,/:-])(${NUM})(?![\d/:-])`, 'g');
const ANY_CURRENCY = new RegExp(CUR, 'gi');

export function currencyOf(token: string): string | null {
  const t = token.trim();
  for (const [re, code] of CURRENCY_TOKENS) if (re.test(t)) return code;
  return null;
}

/**
 * "1,234.50", "1.234,50", "1 234,50", "1234.5", "12,90" → cents, or null. A lone comma or dot
 * followed by exactly three digits is a thousands separator ("1,234"); followed by one or two, a
 * decimal point.
 */
export function parseAmount(text: string): number | null {
  const s = text.replace(/[\u00a0\u202f ]/g, ' ').trim();
  const forms: ReadonlyArray<[RegExp, RegExp]> = [
    [/^(\d{1,3}(?:,\d{3})+)(?:\.(\d{1,2}))?$/, /,/g],
    [/^(\d{1,3}(?:\.\d{3})+)(?:,(\d{1,2}))?$/, /\./g],
    [/^(\d{1,3}(?: \d{3})+)(?:[.,](\d{1,2}))?$/, / /g],
    [/^(\d+)(?:[.,](\d{1,2}))?$/, /$^/g],
  ];
  const form = forms.map(([re, sep]) => ({ m: re.exec(s), sep })).find((f) => f.m !== null);
  if (!form?.m) return null;
  const intPart = (form.m[1] ?? '').replace(form.sep, '');
  const frac = form.m[2] ?? '';
  if (intPart.length > 12) return null;
  return Number(intPart) * 100 + Number(frac.padEnd(2, '0'));
}

interface Money {
  cents: number;
  currency: string | null;
  /** Where in its line it starts. */
  at: number;
}

/** Amounts on one line, with their currency when one is written next to them. */
export function amountsIn(line: string): Money[] {
  const found: Money[] = [];
  const covered: Array<[number, number]> = [];
  for (const m of line.matchAll(MONEY)) {
    const token = m[1] ?? m[4] ?? '';
    const cents = parseAmount(m[2] ?? m[3] ?? '');
    const at = m.index;
    covered.push([at, at + m[0].length]);
    if (cents !== null) found.push({ cents, currency: currencyOf(token), at });
  }
  for (const m of line.matchAll(BARE_NUMBER)) {
    const at = m.index;
    if (covered.some(([a, b]) => at >= a && at < b)) continue;
    const cents = parseAmount(m[1] ?? '');
    if (cents !== null) found.push({ cents, currency: null, at });
  }
  return found.sort((a, b) => a.at - b.at);
}

/** Labels of the amount to pay, strongest first: "סה"כ לתשלום" and "Total" win over any other amount. */
const TOTAL_LABELS: readonly RegExp[] = [
  /סה["״']?כ\s*לתשלום|סך\s*הכל\s*לתשלום|סכום\s*לתשלום|\b(?:total\s*(?:due|paid|charged|amount)|amount\s*(?:due|paid|charged)|grand\s*total)\b/i,
  /(?:^|[^a-z])total\b|סה["״']כ|סך\s*הכל|סכום\s*כולל|לתשלום/i,
];

const cents2 = (cents: number) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;

/** The amount to pay and its currency, or why there is none to read. */
export function findTotal(text: string): { cents: number; currency: string } | { reason: SkipReason } {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const currenciesInMail = new Set([...text.matchAll(ANY_CURRENCY)].map((m) => currencyOf(m[0])).filter((c): c is string => c !== null));
  const onlyCurrency = currenciesInMail.size === 1 ? [...currenciesInMail][0] ?? null : null;
  const settle = (m: Money): { cents: number; currency: string } | { reason: SkipReason } => {
    const currency = m.currency ?? onlyCurrency;
    return currency === null ? { reason: 'no_currency' } : { cents: m.cents, currency };
  };

  for (const label of TOTAL_LABELS) {
    // The last labelled amount: a grand total follows its parts.
    let chosen: Money | null = null;
    lines.forEach((line, i) => {
      const hit = label.exec(line);
      if (!hit) return;
      const after = amountsIn(line).filter((a) => a.at >= hit.index + hit[0].length);
      const before = amountsIn(line).filter((a) => a.at < hit.index);
      // "1,234.50 ₪ :סה"כ לתשלום" (right-to-left text typed in visual order) puts it before the label.
      const next = lines[i + 1];
      const candidate = after[0] ?? before.at(-1) ?? (next !== undefined && !TOTAL_LABELS.some((l) => l.test(next)) ? amountsIn(next)[0] : undefined);
      if (candidate) chosen = candidate;
    });
    if (chosen) return settle(chosen);
  }
  const withCurrency = lines.flatMap((l) => amountsIn(l)).filter((a) => a.currency !== null);
  const distinct = new Map(withCurrency.map((a) => [`${a.cents}:${a.currency}`, a]));
  const [only, ...others] = distinct.values();
  if (only && others.length === 0) return settle(only);
  return { reason: only ? 'ambiguous_amount' : 'no_amount' };
}

/** The sender's display name, else its domain, else its address. */
export function vendorOf(mail: Pick<ParsedMail, 'from' | 'fromHeader'>): string {
  return (mail.from.name ?? mail.from.domain ?? mail.from.email ?? mail.fromHeader.trim()) || 'unknown';
}

/** A mail as a receipt, or the reason it is not one. */
export function extractReceipt(mail: ParsedMail, fallbackDate: Date): Extraction {
  if (!looksLikeReceipt(mail.subject, mail.text)) return { ok: false, reason: 'not_a_receipt' };
  const total = findTotal(mail.text);
  if ('reason' in total) return { ok: false, reason: total.reason };
  return {
    ok: true,
    receipt: {
      vendor: vendorOf(mail).slice(0, 200),
      amount: cents2(total.cents),
      currency: total.currency,
      issuedAt: mail.date ?? fallbackDate,
      subject: mail.subject.slice(0, 500),
    },
  };
}
