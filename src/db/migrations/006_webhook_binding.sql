-- Webhooks bound to exactly one call / one sender (README "Webhook security"). Depends on 002 and 003.

-- Twilio: an opaque random token per call, in its callback URLs (src/outbound/twilio.webhooks.ts).
-- A callback must name the call AND carry its token, so a signed callback of one call can no longer
-- be re-cut into another call's (the signature covers URL + keys + values without separators).
-- The default applies to new rows only: no table rewrite; calls placed before this migration keep
-- NULL and their callbacks (URLs without a token) are accepted only when their CallSid matches.
-- gen_random_uuid() draws from pg_strong_random (122 random bits); built in since PostgreSQL 13.
ALTER TABLE calls ADD COLUMN callback_token text;
ALTER TABLE calls ALTER COLUMN callback_token SET DEFAULT replace(gen_random_uuid()::text, '-', '');

-- WhatsApp: a parked status belongs to the sender that reported it (metadata.phone_number_id) and
-- only ever settles a message that sender sent. Rows parked before this migration have no sender:
-- they are never applied and are pruned with the rest after 7 days.
ALTER TABLE whatsapp_pending_statuses ADD COLUMN phone_number_id text;
-- One row per (sender, message, status): a replayed delivery parks nothing new; also counts a
-- sender's parked rows for its cap (src/broadcasts/delivery.repo.ts PENDING_STATUSES_PER_SENDER).
CREATE UNIQUE INDEX whatsapp_pending_statuses_sender ON whatsapp_pending_statuses (phone_number_id, message_id, status);
-- "Has this number ever sent a broadcast?": statuses of other numbers are not parked at all.
CREATE INDEX whatsapp_broadcasts_sender ON whatsapp_broadcasts (phone_number_id);
