import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type pg from 'pg';
import { errorResponses, Job, pageOf } from '../../contract/index.js';
import { ConflictError, NotFoundError } from '../../lib/errors.js';
import { msg } from '../../lib/messages.js';
import type { JobEvents } from '../../jobs/job-events.js';
import { toJobView } from '../../jobs/job-view.js';
import { cancelJob, getJob, listJobs, pauseJob, resumeJob } from '../../jobs/jobs.repo.js';
import { isTerminal, JOB_STATUSES, type JobRow } from '../../jobs/types.js';
import { caller } from '../auth.js';
import { listQuery, paged } from '../pagination.js';
import { IdParam, nonJsonResponse } from '../schemas.js';
import { need } from '../roles.js';
import { withTx, type Queryable } from '../../db/pool.js';
import { actorOf } from '../../people/actor.js';
import { recordAudit } from '../../people/audit.repo.js';

type Transition = (db: Queryable, businessId: number, jobId: number) => Promise<JobRow | null>;

const TRANSITIONS: Record<'pause' | 'resume' | 'cancel', { run: Transition; summary: string }> = {
  pause: {
    run: pauseJob,
    summary: 'Pause a job (a job no worker holds pauses at once; a running one stays running with pause_requested until its batch boundary)',
  },
  resume: {
    run: resumeJob,
    summary: 'Resume a paused job (or withdraw a pause not yet reached)',
  },
  cancel: {
    run: cancelJob,
    summary: 'Cancel a job (takes effect at the next batch boundary)',
  },
};

const requested = (job: JobRow): 'cancel' | 'pause' | null =>
  job.cancel_requested ? 'cancel' : job.pause_requested ? 'pause' : null;

export const jobRoutes = (pool: pg.Pool, events: JobEvents | null): FastifyPluginAsyncZod => async (app) => {
  app.get('/jobs', {
    config: need('agent'),
    schema: {
      tags: ['jobs'],
      summary: 'List jobs, newest first',
      querystring: z.object({ ...listQuery, status: z.enum(JOB_STATUSES).optional(), type: z.string().max(64).optional() }),
      response: { 200: pageOf(Job), ...errorResponses },
    },
  }, async (request) => {
    const q = request.query;
    // Newest first: the cursor is the last (smallest) id of the page.
    return paged(q, (beforeId, limit) => listJobs(pool, caller(request).businessId, { status: q.status, type: q.type, beforeId, limit }), (shown) => shown.map(toJobView));
  });

  app.get('/jobs/:id', {
    config: need('agent'),
    schema: { tags: ['jobs'], summary: 'One job with its progress', params: IdParam, response: { 200: Job, ...errorResponses } },
  }, async (request) => {
    const job = await getJob(pool, caller(request).businessId, request.params.id);
    if (!job) throw new NotFoundError('Job');
    return toJobView(job);
  });

  for (const name of ['pause', 'resume', 'cancel'] as const) {
    const t = TRANSITIONS[name];
    app.post(`/jobs/:id/${name}`, {
      config: need('admin'),
      schema: {
        tags: ['jobs'],
        summary: t.summary,
        description: 'A transition the job\'s status does not allow answers 409 `invalid_transition`.',
        params: IdParam,
        response: { 200: Job, ...errorResponses },
      },
    }, async (request) => {
      const who = caller(request);
      const { businessId } = who;
      const updated = await withTx(pool, async (tx) => {
        const row = await t.run(tx, businessId, request.params.id);
        if (row) await recordAudit(tx, { businessId, actor: actorOf(who), action: `job.${name}`, targetType: 'job', targetId: row.id, details: { operation: row.type, status: row.status } });
        return row;
      });
      if (updated) return toJobView(updated);
      const job = await getJob(pool, businessId, request.params.id);
      if (!job) throw new NotFoundError('Job');
      throw new ConflictError(
        'invalid_transition',
        msg('jobs.invalid_transition', { action: name, jobId: job.id, status: job.status, requested: requested(job) }),
        { status: job.status },
      );
    });
  }

  app.get('/jobs/:id/events', {
    config: need('agent'),
    schema: {
      tags: ['jobs'],
      summary: 'Server-sent progress events until the job ends',
      description: 'Each change is an `event: progress` whose `data` is the job (the `Job` schema of GET /jobs/{id}); '
        + 'the stream closes after a terminal status.',
      params: IdParam,
      // The stream is written to the raw socket (hijacked), so this only documents it.
      response: { 200: nonJsonResponse('text/event-stream', 'event: progress, data: the job as JSON; until the job ends'), ...errorResponses },
    },
  }, async (request, reply) => {
    const { businessId } = caller(request);
    const jobId = request.params.id;
    const first = await getJob(pool, businessId, jobId);
    if (!first) throw new NotFoundError('Job');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let closed = false;
    let lastSent = '';
    let reading = false;
    let again = false;
    const send = (job: JobRow) => {
      const data = JSON.stringify(toJobView(job));
      if (data === lastSent) return;
      lastSent = data;
      res.write(`event: progress\nid: ${job.id}-${job.processed}-${job.status}\ndata: ${data}\n\n`);
      if (isTerminal(job.status)) finish();
    };
    // Re-read on every change, coalescing bursts: one read in flight, at most one more queued.
    const refresh = async () => {
      if (closed) return;
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      try {
        do {
          again = false;
          const job = await getJob(pool, businessId, jobId);
          if (!job) return finish();
          send(job);
        } while (again && !closed);
      } catch (err) {
        request.log.warn({ err }, 'SSE refresh failed');
      } finally {
        reading = false;
      }
    };
    const unsubscribe = events?.subscribe(jobId, () => void refresh()) ?? (() => undefined);
    // Keep-alive comments, and a slow poll as a safety net should a notification be missed.
    const ticker = setInterval(() => {
      res.write(': keep-alive\n\n');
      void refresh();
    }, events ? 15_000 : 1_000);
    function finish() {
      if (closed) return;
      closed = true;
      clearInterval(ticker);
      unsubscribe();
      res.end();
    }
    request.raw.on('close', finish);
    // Read again now that we are subscribed: a change committed between the first read and the
    // subscription would otherwise wait for the safety poll (15 s).
    send(first);
    void refresh();
  });
};
