import type { gmail_v1 } from '@googleapis/gmail';

/*
 * A Gmail message (users.messages.get, format=full) read into what extraction needs: the
 * sender, the subject, the date, the text, and the attachments. Pure: no network, no database.
 */

export type GmailMessage = gmail_v1.Schema$Message;
type Part = gmail_v1.Schema$MessagePart;

export interface Sender {
  /** The display name, unquoted ("Wolt"), or null when the From header has none. */
  name: string | null;
  /** The address, lowercased. */
  email: string | null;
  /** The address's domain, lowercased ("wolt.com"). */
  domain: string | null;
}

export interface MailAttachment {
  filename: string;
  mimeType: string;
  /** users.messages.attachments.get fetches the bytes by this id; null when they are inline. */
  attachmentId: string | null;
  /** Inline bytes (small attachments), base64url. */
  data: string | null;
  size: number;
}

export interface ParsedMail {
  id: string;
  from: Sender;
  /** The raw From header, as shown to people. */
  fromHeader: string;
  subject: string;
  /** The Date header, else Gmail's internalDate; null when neither reads as a date. */
  date: Date | null;
  /** text/plain when the mail has one, else its text/html as text. */
  text: string;
  attachments: MailAttachment[];
}

export function decodeBase64Url(data: string): Buffer {
  return Buffer.from(data.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function header(part: Part | undefined, name: string): string | null {
  const h = part?.headers?.find((x) => (x.name ?? '').toLowerCase() === name);
  return h?.value ?? null;
}

/** `"Wolt Israel" <info@wolt.com>`, `info@wolt.com`, `Wolt <INFO@Wolt.com>` → name, address, domain. */
export function parseSender(from: string): Sender {
  const angle = /^\s*(.*?)\s*<([^<>@\s]+@[^<>\s]+)>\s*$/.exec(from);
  const bare = angle ? null : /([^\s<>"]+@[^\s<>"]+)/.exec(from);
  const email = (angle?.[2] ?? bare?.[1] ?? '').toLowerCase() || null;
  let name = angle?.[1] ?? null;
  if (name !== null) {
    name = name.replace(/^"(.*)"$/, '$1').replace(/\\"/g, '"').trim();
    if (name === '' || name.toLowerCase() === email) name = null;
  }
  const domain = email?.split('@')[1]?.replace(/[>.]+$/, '') ?? null;
  return { name, email, domain: domain || null };
}

const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", shekel: '₪', euro: '€', pound: '£' };

/** HTML as lines of text: blocks and cells become line breaks, tags go, entities are decoded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style|head)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<br\s*\/?>|<\/(p|div|tr|td|th|li|h[1-6]|table)>/gi, '\n')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x?[0-9a-f]+|[a-z]+);/gi, (whole, ent: string) => {
      if (ent.startsWith('#')) {
        const code = ent[1] === 'x' || ent[1] === 'X' ? Number.parseInt(ent.slice(2), 16) : Number.parseInt(ent.slice(1), 10);
        return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : ' ';
      }
      return ENTITIES[ent.toLowerCase()] ?? whole;
    })
    .split('\n')
    .map((l) => l.replace(/[ \t\u00a0]+/g, ' ').trim())
    .filter((l) => l !== '')
    .join('\n');
}

function walk(part: Part | undefined, visit: (p: Part) => void): void {
  if (!part) return;
  visit(part);
  for (const child of part.parts ?? []) walk(child, visit);
}

const isPdf = (p: { mimeType?: string | null; filename?: string | null }) =>
  (p.mimeType ?? '').toLowerCase() === 'application/pdf' || /\.pdf$/i.test(p.filename ?? '');

/** Reads a users.messages.get (format=full) answer. */
export function parseGmailMessage(message: GmailMessage): ParsedMail {
  const payload = message.payload ?? undefined;
  const bodies: { plain: string | null; html: string | null } = { plain: null, html: null };
  const attachments: MailAttachment[] = [];
  walk(payload, (p) => {
    const mime = (p.mimeType ?? '').toLowerCase();
    if (p.filename) {
      attachments.push({
        filename: p.filename,
        mimeType: mime || 'application/octet-stream',
        attachmentId: p.body?.attachmentId ?? null,
        data: p.body?.attachmentId ? null : (p.body?.data ?? null),
        size: p.body?.size ?? 0,
      });
      return;
    }
    const data = p.body?.data;
    if (!data) return;
    if (mime === 'text/plain' && bodies.plain === null) bodies.plain = decodeBase64Url(data).toString('utf8');
    else if (mime === 'text/html' && bodies.html === null) bodies.html = decodeBase64Url(data).toString('utf8');
  });
  const fromHeader = header(payload, 'from') ?? '';
  const dateHeader = header(payload, 'date');
  const fromHeaderDate = dateHeader ? new Date(dateHeader) : null;
  const internal = message.internalDate ? new Date(Number(message.internalDate)) : null;
  const date = fromHeaderDate && !Number.isNaN(fromHeaderDate.getTime()) ? fromHeaderDate : internal && !Number.isNaN(internal.getTime()) ? internal : null;
  return {
    id: message.id ?? '',
    from: parseSender(fromHeader),
    fromHeader,
    subject: header(payload, 'subject') ?? '',
    date,
    text: bodies.plain !== null ? bodies.plain.replace(/\r\n/g, '\n') : bodies.html !== null ? htmlToText(bodies.html) : '',
    attachments,
  };
}

/** The mail's first PDF attachment, if any. */
export function pdfAttachment(mail: Pick<ParsedMail, 'attachments'>): MailAttachment | null {
  return mail.attachments.find(isPdf) ?? null;
}
