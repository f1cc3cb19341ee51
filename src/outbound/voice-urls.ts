/**
 * The URLs Twilio calls for one of our calls: status and recording callbacks, the call flow's
 * answer, gather, AMD and dial-status webhooks. Each names the business and our call id and
 * carries the call's callback token (006_webhook_binding.sql), signed with the URL by Twilio, so
 * the webhook binds it to exactly that call (twilio.webhooks.ts bindCallback). A call row without
 * a token (placed before 006) gets URLs without it, bound by the stored CallSid only.
 */
export type VoiceHook = 'status' | 'recording' | 'answer' | 'gather' | 'amd' | 'dial-status';

export interface CallIds {
  business_id: number;
  id: number;
  callback_token: string | null;
}

export function voiceUrl(base: string, hook: VoiceHook, call: CallIds, extra: Record<string, number> = {}): string {
  const token = call.callback_token === null ? '' : `&t=${call.callback_token}`;
  const more = Object.entries(extra).map(([k, v]) => `&${k}=${v}`).join('');
  return `${base}/webhooks/twilio/voice/${hook}?b=${call.business_id}&call_id=${call.id}${token}${more}`;
}
