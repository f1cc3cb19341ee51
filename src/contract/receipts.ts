import { z } from 'zod';
import { Int, Timestamp } from './common.js';

export const Receipt = z.object({
  id: Int,
  vendor: z.string(),
  amount: z.number(),
  currency: z.string().describe('ISO 4217'),
  issued_at: Timestamp,
  created_at: Timestamp,
  source: z.enum(['manual', 'gmail']).describe('typed in by hand, or imported from the connected Gmail mailbox'),
  gmail_message_id: z.string().nullable().describe('the Gmail message it came from: one receipt per message'),
  subject: z.string().nullable().describe('the mail\'s subject (Gmail receipts)'),
  from: z.string().nullable().describe('the mail\'s sender (Gmail receipts)'),
  has_attachment: z.boolean().describe('the mail\'s PDF is at GET /receipts/{id}/attachment'),
}).describe('A receipt');
export type Receipt = z.infer<typeof Receipt>;

export const GmailConnection = z.object({
  connected: z.boolean().describe('a mailbox is connected and syncing'),
  email: z.string().nullable().describe('the connected mailbox'),
  status: z.enum(['connected', 'reauth_required']).nullable().describe('reauth_required: Google revoked the access; connect again (null: never connected)'),
  last_sync_at: Timestamp.nullable(),
  last_error: z.string().nullable().describe('why the last sync did not complete, in the reader\'s language'),
}).describe('The business\'s Gmail connection');
export type GmailConnection = z.infer<typeof GmailConnection>;

export const GmailConnectStarted = z.object({
  auth_url: z.string().describe('Google\'s consent page; Google sends the browser back to /oauth/google/callback, then to the dashboard'),
}).describe('A Gmail consent to open in a browser');
export type GmailConnectStarted = z.infer<typeof GmailConnectStarted>;
