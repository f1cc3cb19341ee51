-- A broadcast recipient's send is marked started (committed) right before the provider call, so
-- a crash tells the sends that may have left (failed unknown_outcome, never resent) from the
-- recipients only claimed for a later slot (back to queued: the request never left).
-- docs/BROADCASTS.md, "At-most-once sending". Depends on 003 only.

ALTER TABLE whatsapp_recipients ADD COLUMN send_started_at timestamptz;
