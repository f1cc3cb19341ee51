import { createHash } from 'node:crypto';
import type { gmail_v1 } from '@googleapis/gmail';

/*
 * Builds messages as users.messages.get returns them (format=full and format=raw), for the Gmail
 * simulator's mailbox and for tests: multipart/mixed around multipart/alternative (text/plain,
 * text/html), a PDF part whose bytes are fetched by attachment id, base64url bodies.
 */

export interface MailSpec {
  from: string;
  to?: string;
  subject: string;
  date: Date;
  text?: string;
  html?: string;
  pdf?: { filename: string; bytes: Buffer };
  labels?: string[];
}

export interface BuiltMessage {
  message: gmail_v1.Schema$Message;
  /** The PDF's bytes by attachment id. */
  attachments: Map<string, Buffer>;
  raw: string;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Encodes a header value with RFC 2047 when it is not ASCII (Hebrew subjects and names). */
function headerValue(v: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(v) ? v : `=?UTF-8?B?${Buffer.from(v, 'utf8').toString('base64')}?=`;
}

export function buildMessage(id: string, spec: MailSpec): BuiltMessage {
  const headers = [
    { name: 'From', value: spec.from },
    { name: 'To', value: spec.to ?? 'owner@example.co.il' },
    { name: 'Subject', value: spec.subject },
    { name: 'Date', value: spec.date.toUTCString() },
    { name: 'Message-ID', value: `<${id}@mail.example>` },
  ];
  const bodies: gmail_v1.Schema$MessagePart[] = [];
  if (spec.text !== undefined) {
    bodies.push({ partId: '0.0', mimeType: 'text/plain', filename: '', headers: [{ name: 'Content-Type', value: 'text/plain; charset="UTF-8"' }], body: { size: Buffer.byteLength(spec.text), data: b64url(spec.text) } });
  }
  if (spec.html !== undefined) {
    bodies.push({ partId: '0.1', mimeType: 'text/html', filename: '', headers: [{ name: 'Content-Type', value: 'text/html; charset="UTF-8"' }], body: { size: Buffer.byteLength(spec.html), data: b64url(spec.html) } });
  }
  const attachments = new Map<string, Buffer>();
  const alternative: gmail_v1.Schema$MessagePart = { partId: '0', mimeType: 'multipart/alternative', filename: '', headers: [], body: { size: 0 }, parts: bodies };
  const parts: gmail_v1.Schema$MessagePart[] = [alternative];
  if (spec.pdf) {
    const attachmentId = `ANGjdJ_${createHash('sha256').update(id).digest('base64url').slice(0, 24)}`;
    attachments.set(attachmentId, spec.pdf.bytes);
    parts.push({
      partId: '1',
      mimeType: 'application/pdf',
      filename: spec.pdf.filename,
      headers: [{ name: 'Content-Type', value: `application/pdf; name="${spec.pdf.filename}"` }, { name: 'Content-Disposition', value: `attachment; filename="${spec.pdf.filename}"` }],
      body: { size: spec.pdf.bytes.length, attachmentId },
    });
  }
  const payload: gmail_v1.Schema$MessagePart = { partId: '', mimeType: 'multipart/mixed', filename: '', headers, body: { size: 0 }, parts };
  const boundary = `b_${id}`;
  const rawLines = [
    ...headers.map((h) => `${h.name}: ${headerValue(h.value)}`),
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    ...bodies.flatMap((p) => [`--${boundary}`, `Content-Type: ${p.mimeType}; charset="UTF-8"`, 'Content-Transfer-Encoding: base64', '', Buffer.from(p.body?.data ?? '', 'base64url').toString('base64'), '']),
    ...(spec.pdf ? [`--${boundary}`, `Content-Type: application/pdf; name="${spec.pdf.filename}"`, 'Content-Transfer-Encoding: base64', '', spec.pdf.bytes.toString('base64'), ''] : []),
    `--${boundary}--`,
  ];
  const raw = b64url(rawLines.join('\r\n'));
  const message: gmail_v1.Schema$Message = {
    id,
    threadId: id,
    labelIds: spec.labels ?? ['INBOX'],
    snippet: (spec.text ?? spec.html ?? '').replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 120),
    internalDate: String(spec.date.getTime()),
    sizeEstimate: Buffer.byteLength(raw),
    payload,
  };
  return { message, attachments, raw };
}

/** A small valid one-page PDF saying `line` (ASCII), with a correct cross-reference table. */
export function tinyPdf(line: string): Buffer {
  const text = line.replace(/[()\\]/g, ' ');
  const stream = `BT /F1 18 Tf 50 750 Td (${text}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}
