-- Issue 15: a retry policy per outcome (src/outbound/retry.ts). Besides busy and no-answer, a
-- business may retry calls answering-machine detection ended: `machine` (the machine was hung
-- up on) and `voicemail_left` (a voicemail was left: final unless the business asks otherwise).
--
-- Per outcome o the columns are retry_<o> (extra attempts), retry_<o>_delay_s (the delay before
-- each; NULL: the common retry_delay_s, so `retry.delay_s` keeps meaning what it always meant for
-- busy and no-answer) and retry_<o>_next_day (true: wait for the next opening of the business's
-- calling hours instead of a delay). retry_busy and retry_no_answer exist since 002. Additive
-- only: existing rows get no retries for the new outcomes and keep their common delay.
ALTER TABLE dialer_settings
  ADD COLUMN retry_machine                int NOT NULL DEFAULT 0 CHECK (retry_machine BETWEEN 0 AND 10),
  ADD COLUMN retry_voicemail_left         int NOT NULL DEFAULT 0 CHECK (retry_voicemail_left BETWEEN 0 AND 10),
  ADD COLUMN retry_busy_delay_s           int CHECK (retry_busy_delay_s BETWEEN 1 AND 604800),
  ADD COLUMN retry_no_answer_delay_s      int CHECK (retry_no_answer_delay_s BETWEEN 1 AND 604800),
  ADD COLUMN retry_machine_delay_s        int CHECK (retry_machine_delay_s BETWEEN 1 AND 604800),
  ADD COLUMN retry_voicemail_left_delay_s int CHECK (retry_voicemail_left_delay_s BETWEEN 1 AND 604800),
  ADD COLUMN retry_busy_next_day           boolean NOT NULL DEFAULT false,
  ADD COLUMN retry_no_answer_next_day      boolean NOT NULL DEFAULT false,
  ADD COLUMN retry_machine_next_day        boolean NOT NULL DEFAULT false,
  ADD COLUMN retry_voicemail_left_next_day boolean NOT NULL DEFAULT false;
