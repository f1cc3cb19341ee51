import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { amountsIn, extractReceipt, findTotal, looksLikeReceipt, parseAmount, type Extraction } from '../../src/receipts/extract.js';
import { htmlToText, parseGmailMessage, parseSender, pdfAttachment } from '../../src/receipts/gmail-message.js';
import { buildMessage, tinyPdf, type MailSpec } from '../../src/providers/google/mail-builder.js';
import { matchesQuery } from '../../src/providers/google/simulator.js';
import { RECEIPT_QUERY } from '../../src/receipts/extract.js';

/** Issue 17, extraction: pure functions over real-looking Hebrew and English receipt mails. */

const DATE = new Date('2026-10-14T08:30:00Z');
const FALLBACK = new Date('2000-01-01T00:00:00Z');

function extract(spec: Partial<MailSpec> & { subject: string }): Extraction {
  const { message } = buildMessage('18c0000000000abc', { from: 'Shop <shop@example.com>', date: DATE, ...spec });
  return extractReceipt(parseGmailMessage(message), FALLBACK);
}

describe('amounts', () => {
  const cases: Array<[string, number | null]> = [
    ['1,234.50', 123450],
    ['1.234,50', 123450],
    ['1 234,50', 123450],
    ['1\u00a0234.5', 123450],
    ['12,90', 1290],
    ['12.9', 1290],
    ['1,234', 123400],
    ['1.250.000,00', 125000000],
    ['64', 6400],
    ['0.99', 99],
    ['1,23,4', null],
    ['abc', null],
    ['1234567890123', null],
  ];
  for (const [text, cents] of cases) test(`${JSON.stringify(text)} → ${cents}`, () => assert.equal(parseAmount(text), cents));

  test('currency before or after, in every spelling', () => {
    const seen = (line: string) => amountsIn(line).map((a) => [a.cents, a.currency]);
    assert.deepEqual(seen('סה"כ: 64.80 ₪'), [[6480, 'ILS']]);
    assert.deepEqual(seen('₪64.80'), [[6480, 'ILS']]);
    assert.deepEqual(seen('199.00 ש״ח'), [[19900, 'ILS']]);
    assert.deepEqual(seen('1,234.50 ש"ח'), [[123450, 'ILS']]);
    assert.deepEqual(seen('ILS 50'), [[5000, 'ILS']]);
    assert.deepEqual(seen('NIS 50.5'), [[5050, 'ILS']]);
    assert.deepEqual(seen('Total: $51.97'), [[5197, 'USD']]);
    assert.deepEqual(seen('USD 10'), [[1000, 'USD']]);
    assert.deepEqual(seen('€ 1.250,00'), [[125000, 'EUR']]);
    assert.deepEqual(seen('12,50 EUR'), [[1250, 'EUR']]);
    assert.deepEqual(seen('£12.40'), [[1240, 'GBP']]);
    assert.deepEqual(seen('order 4580 paid 10 GBP'), [[458000, null], [1000, 'GBP']]);
  });
});

describe('looks like a receipt', () => {
  const cases: Array<[string, string, boolean]> = [
    ['קבלה מס\' 88231', '', true],
    ['הקבלה שלך מ-Wolt', '', true],
    ['חשבונית מס לחודש אוקטובר', '', true],
    ['מצורפות חשבוניות', '', true],
    ['עדכון', 'ולחשבונית המצורפת', true],
    ['ההודעה שלך התקבלה', 'תודה', false],
    ['Your Amazon.com order receipt', '', true],
    ['Invoice BK-2025-0042', '', true],
    ['Payment confirmation', '', true],
    ['Stories for you', 'receipts of the week are in the app', true],
    ['Stories for you this week', 'Get 20% off membership for $5.', false],
    ['Receiptify your playlists', '', false],
  ];
  for (const [subject, text, expected] of cases) test(`${subject} / ${text} → ${expected}`, () => assert.equal(looksLikeReceipt(subject, text), expected));
});

describe('the total is preferred over other amounts', () => {
  test('סה"כ לתשלום wins over the items, the delivery and a plain סה"כ', () => {
    assert.deepEqual(findTotal('מנה: 54.90 ₪\nדמי משלוח: 9.90 ₪\nסה"כ לפני מע"מ: 54.92 ₪\nסה"כ לתשלום: 64.80 ₪'), { cents: 6480, currency: 'ILS' });
  });
  test('the label in one table cell and the amount in the next', () => {
    assert.deepEqual(findTotal('סה"כ לתשלום\n1,234.50 ש"ח'), { cents: 123450, currency: 'ILS' });
  });
  test('right-to-left typed in visual order: the amount before the label', () => {
    assert.deepEqual(findTotal('64.80 ₪ :סה"כ לתשלום'), { cents: 6480, currency: 'ILS' });
  });
  test('Total, not Subtotal', () => {
    assert.deepEqual(findTotal('Subtotal: $45.98\nShipping: $5.99\nOrder Total: $51.97'), { cents: 5197, currency: 'USD' });
  });
  test('a labelled amount without a currency takes the one currency the mail names', () => {
    assert.deepEqual(findTotal('Prices in ILS\nTotal: 120.00'), { cents: 12000, currency: 'ILS' });
  });
  test('a labelled amount and no currency anywhere: no_currency', () => {
    assert.deepEqual(findTotal('Total: 120.00'), { reason: 'no_currency' });
  });
  test('two amounts and no total: ambiguous_amount, never a guess', () => {
    assert.deepEqual(findTotal('Blue shirt $10.00\nRed shirt $20.00'), { reason: 'ambiguous_amount' });
  });
  test('one amount said twice is one amount', () => {
    assert.deepEqual(findTotal('You paid £12.40.\nCharged: £12.40'), { cents: 1240, currency: 'GBP' });
  });
  test('no amount at all', () => assert.deepEqual(findTotal('Five tips for your next invoice.'), { reason: 'no_amount' }));
});

describe('senders', () => {
  const cases: Array<[string, { name: string | null; email: string | null; domain: string | null }]> = [
    ['"Wolt" <info@wolt.com>', { name: 'Wolt', email: 'info@wolt.com', domain: 'wolt.com' }],
    ['בזק <invoice@bezeq.co.il>', { name: 'בזק', email: 'invoice@bezeq.co.il', domain: 'bezeq.co.il' }],
    ['receipts@tfl.gov.uk', { name: null, email: 'receipts@tfl.gov.uk', domain: 'tfl.gov.uk' }],
    ['<Billing@PayPal.com>', { name: null, email: 'billing@paypal.com', domain: 'paypal.com' }],
    ['"billing@x.io" <billing@x.io>', { name: null, email: 'billing@x.io', domain: 'x.io' }],
  ];
  for (const [from, expected] of cases) test(from, () => assert.deepEqual(parseSender(from), expected));
});

describe('whole mails', () => {
  const table: Array<{ name: string; spec: Partial<MailSpec> & { subject: string }; expect: Extraction }> = [
    {
      name: 'Hebrew receipt, plain text, ₪',
      spec: { from: '"Wolt" <info@wolt.com>', subject: 'הקבלה שלך מ-Wolt', text: 'שניצל: 54.90 ₪\nדמי משלוח: 9.90 ₪\nסה"כ לתשלום: 64.80 ₪' },
      expect: { ok: true, receipt: { vendor: 'Wolt', amount: '64.80', currency: 'ILS', issuedAt: DATE, subject: 'הקבלה שלך מ-Wolt' } },
    },
    {
      name: 'Hebrew tax invoice, HTML table, ש"ח with entities, thousands',
      spec: {
        from: 'בזק <invoice@bezeq.co.il>',
        subject: 'חשבונית מס',
        html: '<table><tr><td>סה&quot;כ לפני מע&quot;מ</td><td>1,046.19 ש"ח</td></tr><tr><td><b>סה&quot;כ לתשלום</b></td><td>1,234.50&nbsp;ש&quot;ח</td></tr></table>',
      },
      expect: { ok: true, receipt: { vendor: 'בזק', amount: '1234.50', currency: 'ILS', issuedAt: DATE, subject: 'חשבונית מס' } },
    },
    {
      name: 'text/plain is read before text/html',
      spec: { subject: 'Receipt', text: 'Total: $9.00', html: '<p>Total: $999.00</p>' },
      expect: { ok: true, receipt: { vendor: 'Shop', amount: '9.00', currency: 'USD', issuedAt: DATE, subject: 'Receipt' } },
    },
    {
      name: 'English invoice, euros in European notation',
      spec: { from: 'Booking.com <noreply@booking.com>', subject: 'Invoice BK-1', text: 'Room: € 1.100,00\nTotal amount: € 1.250,00' },
      expect: { ok: true, receipt: { vendor: 'Booking.com', amount: '1250.00', currency: 'EUR', issuedAt: DATE, subject: 'Invoice BK-1' } },
    },
    {
      name: 'no display name: the domain is the vendor',
      spec: { from: 'receipts@tfl.gov.uk', subject: 'Payment confirmation', text: 'You paid £12.40 for your journeys.' },
      expect: { ok: true, receipt: { vendor: 'tfl.gov.uk', amount: '12.40', currency: 'GBP', issuedAt: DATE, subject: 'Payment confirmation' } },
    },
    { name: 'personal mail', spec: { subject: 'ארוחת שישי', text: 'תביאו 2 בקבוקי יין ב-₪50' }, expect: { ok: false, reason: 'not_a_receipt' } },
    { name: 'an "invoice" article', spec: { subject: 'How to write an invoice', text: 'Five tips.' }, expect: { ok: false, reason: 'no_amount' } },
    { name: 'two amounts, no total', spec: { subject: 'Receipt', text: 'A $10.00\nB $20.00' }, expect: { ok: false, reason: 'ambiguous_amount' } },
  ];
  for (const c of table) test(c.name, () => assert.deepEqual(extract(c.spec), c.expect));

  test('the mail date, else internalDate, is the issue date', () => {
    const { message } = buildMessage('1', { from: 'a@b.c', subject: 'Receipt', date: DATE, text: 'Total $1' });
    const headers = (message.payload?.headers ?? []).filter((h) => h.name !== 'Date');
    const noDateHeader = parseGmailMessage({ ...message, payload: { ...message.payload, headers } });
    assert.equal(noDateHeader.date?.toISOString(), DATE.toISOString());
  });
});

describe('Gmail message parsing', () => {
  test('nested parts, base64url bodies, a PDF found by type or by name', () => {
    const text = 'קבלה ✓ סה"כ לתשלום: 10 ₪ ?>?>';
    const data = Buffer.from(text).toString('base64url');
    assert.match(data, /[-_]/, 'the sample must use the base64url alphabet');
    const parsed = parseGmailMessage({
      id: 'm1',
      internalDate: String(DATE.getTime()),
      payload: {
        mimeType: 'multipart/mixed',
        headers: [{ name: 'From', value: 'A <a@b.co>' }, { name: 'subject', value: 'S' }],
        parts: [
          { mimeType: 'multipart/related', parts: [{ mimeType: 'multipart/alternative', parts: [{ mimeType: 'text/plain', body: { data } }] }] },
          { mimeType: 'application/octet-stream', filename: 'Invoice.PDF', body: { attachmentId: 'att1', size: 2048 } },
        ],
      },
    });
    assert.equal(parsed.text, text);
    assert.equal(parsed.subject, 'S');
    assert.deepEqual(pdfAttachment(parsed), { filename: 'Invoice.PDF', mimeType: 'application/octet-stream', attachmentId: 'att1', data: null, size: 2048 });
  });

  test('a mail with a PDF from the builder: the PDF is detected, its bytes are a PDF', () => {
    const built = buildMessage('2', { from: 'a@b.c', subject: 'Invoice', date: DATE, text: 'Total $1', pdf: { filename: 'inv.pdf', bytes: tinyPdf('hello') } });
    const att = pdfAttachment(parseGmailMessage(built.message));
    assert.ok(att?.attachmentId);
    const bytes = built.attachments.get(att.attachmentId);
    assert.ok(bytes);
    assert.ok(bytes.subarray(0, 5).equals(Buffer.from('%PDF-')));
    assert.match(bytes.toString('latin1'), /%%EOF\n$/);
  });

  test('no text at all', () => assert.equal(parseGmailMessage({ id: 'x', payload: { mimeType: 'text/plain', body: { size: 0 } } }).text, ''));

  test('HTML to text: scripts dropped, cells and breaks become lines, entities decoded', () => {
    assert.equal(htmlToText('<style>p{}</style><p>A&amp;B</p><table><tr><td>x&#8362;</td><td>&#x20AC;1</td></tr></table>line<br>two'), 'A&B\nx₪\n€1\nline\ntwo');
  });

  test('the receipt query (the simulator reads it as Gmail does): words in Hebrew and English, 12 months', () => {
    const now = new Date('2026-12-01T00:00:00Z');
    const at = (days: number) => new Date(now.getTime() - days * 86_400_000);
    assert.equal(matchesQuery({ from: 'x', subject: 'חשבונית מס', date: at(10) }, RECEIPT_QUERY, now), true);
    assert.equal(matchesQuery({ from: 'x', subject: 'Your receipt', date: at(300) }, RECEIPT_QUERY, now), true);
    assert.equal(matchesQuery({ from: 'x', subject: 'Your receipt', date: at(400) }, RECEIPT_QUERY, now), false);
    assert.equal(matchesQuery({ from: 'x', subject: 'Lunch', date: at(1) }, RECEIPT_QUERY, now), false);
  });
});
