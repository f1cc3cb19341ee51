-- Pause at the batch boundary (API.md "Jobs"): a pause of a job a worker holds is a request, like
-- cancel_requested; the job stays `running` until its batch commits, then reads `paused` and
-- nothing about it changes until it is resumed. Depends on 001 only.

ALTER TABLE jobs ADD COLUMN pause_requested boolean NOT NULL DEFAULT false;
-- Only a held job can have a pause pending: every statement that lets go of a job (batch commit,
-- release, batch failure, rescue) turns the request into `paused` and clears it in the same UPDATE.
ALTER TABLE jobs ADD CONSTRAINT jobs_pause_requested_held
  CHECK (NOT pause_requested OR (status = 'running' AND locked_by IS NOT NULL));
