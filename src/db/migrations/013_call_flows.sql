-- Call flows (API.md "Channels, locale, call flows"): what a lead hears once the call is answered,
-- answering-machine detection, and "press 9 to stop these calls".

-- The business's flow (NULL: the default message in the business's language, with press 9).
-- Validated by src/outbound/call-flow.ts before it is stored; jsonb because its shape is a union.
ALTER TABLE dialer_settings ADD COLUMN call_flow jsonb;

-- The flow a run was accepted with (its override, else the business's flow at that moment):
-- a change of settings never changes what a run in progress says.
ALTER TABLE outbound_runs ADD COLUMN call_flow jsonb;

-- A call remembers its flow (direct calls: the business's at claim time; run calls read their run's)
-- and what happened in it: who answered (AMD), the outcome, the agent that took it, the digits pressed.
ALTER TABLE calls ADD COLUMN call_flow jsonb;
ALTER TABLE calls ADD COLUMN answered_by text CHECK (answered_by IN ('human', 'machine', 'unknown'));
ALTER TABLE calls ADD COLUMN outcome text
  CHECK (outcome IN ('connected', 'message_played', 'voicemail_left', 'opted_out', 'hung_up', 'no_answer', 'busy', 'failed'));
ALTER TABLE calls ADD COLUMN agent text;
ALTER TABLE calls ADD COLUMN digits text CHECK (length(digits) <= 32);

-- Run counts by outcome (connected, voicemail_left, opted_out) read a run's calls.
CREATE INDEX calls_run_outcome ON calls (business_id, run_id, outcome) WHERE outcome IS NOT NULL;
