import { isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js';

/**
 * A phone as the business typed it → E.164 (`+12125550100`), or null when it is not a valid
 * number. Local numbers ("(212) 555-0100") are read in the business's default country; numbers
 * with a leading `+` or an international prefix ignore it. Validity (not mere possibility) is
 * required, so a dialer never receives a number that cannot exist.
 */
export function normalizePhone(raw: string, defaultCountry: string): string | null {
  const text = raw.trim();
  // The longest E.164 number is 15 digits; anything far longer is not a phone, and parsing
  // arbitrary-length input is wasted work.
  if (text.length === 0 || text.length > 40) return null;
  const country = isSupportedCountry(defaultCountry) ? defaultCountry : undefined;
  const parsed = parsePhoneNumberFromString(text, country ? { defaultCountry: country } : undefined);
  if (!parsed?.isValid()) return null;
  return parsed.number;
}
