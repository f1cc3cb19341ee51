import { tinyPdf, type MailSpec } from './mail-builder.js';

/** The mailbox every simulated consent connects unless the auth URL names another (login_hint). */
export const SIM_MAILBOX = 'owner@example.co.il';

const DAY = 86_400_000;

/**
 * The simulator's seeded mailbox, relative to `now`: Hebrew and English receipts and invoices
 * (some with a PDF), a receipt older than 12 months, mail that says "invoice" but is not one,
 * a receipt whose amount cannot be told, a newsletter and personal mail.
 */
export function seedMailbox(now: Date): MailSpec[] {
  const ago = (days: number) => new Date(now.getTime() - days * DAY);
  return [
    {
      from: '"Wolt" <info@wolt.com>',
      subject: 'הקבלה שלך מ-Wolt',
      date: ago(3),
      text: ['תודה שהזמנת!', 'שניצל בצלחת: 54.90 ₪', 'דמי משלוח: 9.90 ₪', 'סה"כ לתשלום: 64.80 ₪', 'קבלה מס\' 55120'].join('\n'),
    },
    {
      from: 'בזק <invoice@bezeq.co.il>',
      subject: 'חשבונית מס לחודש אוקטובר',
      date: ago(30),
      html: '<html><body><p>לקוח יקר, מצורפת חשבונית המס שלך.</p><table>'
        + '<tr><td>סה&quot;כ לפני מע&quot;מ</td><td>1,046.19 ש"ח</td></tr>'
        + '<tr><td>מע&quot;מ 18%</td><td>188.31 ש"ח</td></tr>'
        + '<tr><td><b>סה&quot;כ לתשלום</b></td><td><b>1,234.50 ש"ח</b></td></tr></table></body></html>',
      pdf: { filename: 'bezeq-invoice-10.pdf', bytes: tinyPdf('Bezeq tax invoice 1,234.50 ILS') },
    },
    {
      from: 'Amazon.com <auto-confirm@amazon.com>',
      subject: 'Your Amazon.com order receipt',
      date: ago(45),
      text: 'Order #112-4455667\nItem subtotal: $45.98\nShipping & handling: $5.99\nOrder Total: $51.97\nThank you for shopping with us.',
    },
    {
      from: 'Booking.com <noreply@booking.com>',
      subject: 'Invoice BK-2025-0042',
      date: ago(80),
      text: 'Hotel Adlon, 3 nights\nRoom: € 1.100,00\nCity tax: € 150,00\nTotal amount: € 1.250,00',
      pdf: { filename: 'invoice-BK-2025-0042.pdf', bytes: tinyPdf('Booking.com invoice EUR 1.250,00') },
    },
    {
      from: 'receipts@tfl.gov.uk',
      subject: 'Payment confirmation',
      date: ago(120),
      text: 'You paid £12.40 for your journeys on Monday.',
    },
    {
      from: '"סלקום" <billing@cellcom.co.il>',
      subject: 'קבלה מס\' 88231',
      date: ago(200),
      text: 'שלום, התשלום התקבל.\nשולם: 199.00 ש״ח\nבכרטיס המסתיים ב-4580',
      pdf: { filename: 'receipt-88231.pdf', bytes: tinyPdf('Cellcom receipt 199.00 ILS') },
    },
    // Older than 12 months: the first sync's query leaves it out.
    {
      from: 'Amazon.com <auto-confirm@amazon.com>',
      subject: 'Your Amazon.com order receipt',
      date: ago(400),
      text: 'Order Total: $19.99',
    },
    // Says "invoice" but has no amount: listed by the query, skipped by extraction.
    {
      from: 'Freelancer Tips <tips@freelancer-weekly.com>',
      subject: 'How to write an invoice clients pay on time',
      date: ago(10),
      text: 'Five tips for your next invoice. Read more on our blog.',
    },
    // Two amounts, no total: which one was paid cannot be told.
    {
      from: 'Shop <orders@shop.example>',
      subject: 'Receipt for your order',
      date: ago(15),
      text: 'Blue shirt $10.00\nRed shirt $20.00',
    },
    { from: 'Medium Daily Digest <noreply@medium.com>', subject: 'Stories for you this week', date: ago(2), text: 'Ten stories picked for you. Get 20% off membership for $5.' },
    { from: 'אמא <mom@gmail.com>', subject: 'ארוחת שישי', date: ago(5), text: 'מגיעים ביום שישי? תביאו 2 בקבוקי יין.' },
    { from: 'Dan Cohen <dan@example.com>', subject: 'Re: lunch tomorrow', date: ago(6), text: 'Sure, 12:30 works. My treat, it was only $30 last time.' },
  ];
}

/** A receipt that arrives later (the simulator's "new mail" hook in tests and demos). */
export function newReceiptMail(now: Date, n = 1): MailSpec {
  return {
    from: '"Yango" <receipts@yango.com>',
    subject: `קבלה על נסיעה ${n}`,
    date: now,
    text: `נסיעה מתל אביב לרמת גן\nסה"כ לתשלום: ${40 + n}.00 ₪`,
  };
}
