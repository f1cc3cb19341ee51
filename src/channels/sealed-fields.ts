/**
 * Every sealed secret column, with the context its seal is bound to (secret-box.ts: a value
 * copied into another business's row, or into another column, does not open there). The channel
 * code seals and opens through these; `bulkhead secrets rotate` walks this list, so a new sealed
 * column (Gmail refresh tokens …) is rotated once it is listed here.
 */
export interface SealedField {
  table: string;
  column: string;
  /** What the seal is bound to, per row. */
  context(businessId: number): string;
}

function field(table: string, name: string): SealedField {
  return { table, column: `${name}_sealed`, context: (businessId) => `${table}.${name}:${businessId}` };
}

export const VOICE_AUTH_TOKEN = field('voice_channels', 'auth_token');
export const WHATSAPP_ACCESS_TOKEN = field('whatsapp_channels', 'access_token');
export const WHATSAPP_APP_SECRET = field('whatsapp_channels', 'app_secret');
export const GMAIL_REFRESH_TOKEN = field('gmail_connections', 'refresh_token');

export const SEALED_FIELDS: readonly SealedField[] = [VOICE_AUTH_TOKEN, WHATSAPP_ACCESS_TOKEN, WHATSAPP_APP_SECRET, GMAIL_REFRESH_TOKEN];
