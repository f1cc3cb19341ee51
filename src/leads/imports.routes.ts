import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import type { AcceptDeps } from '../gate/accept.js';
import { Accepted, errorResponses, Import } from '../contract/index.js';
import { caller } from '../http/auth.js';
import { IdempotencyHeaders, IdParam } from '../http/schemas.js';
import { idempotencyOf, sendAccepted } from '../http/accepted.js';
import { readImportBody } from './import-body.js';
import { acceptImport, findImport, importContent, importView } from './imports.service.js';
import { Filename } from './leads.schemas.js';

// The route schema only tells JSON from CSV: a zod union reports any problem inside the JSON as
// one "Invalid input" at the root, so readImportBody checks the JSON, keeping each issue's path
// (body.leads.3).
const ImportJsonShape = z.looseObject({}).describe('{"leads": [{phone, name?, email?, tags?: string[]}], "filename"?: string}');
const ImportCsv = z.string().describe('text/csv with a header row: phone,name,email,tags (tags separated by ";" or "|")');

export const importRoutes = (pool: pg.Pool, accept: AcceptDeps): FastifyPluginAsyncZod => async (app) => {
  app.post('/leads/import', {
    // Rows are the job's to judge, unstorable text included (a row error, not a 400 for the file);
    // the filename, query and headers stay under the API's text guard.
    config: { rowText: { bodyKeys: ['leads'], textBody: true } },
    schema: {
      tags: ['leads'],
      summary: 'Import up to 100 000 leads from JSON or CSV; rows are validated by an import_leads job',
      description: 'Send JSON `{"leads": [{phone, name?, email?, tags?}], "filename"?}` or a `text/csv` body '
        + '(filename from `?filename=` or the `X-Filename` header). Answers 202 with the job and the import.',
      headers: IdempotencyHeaders.extend({ 'x-filename': Filename.optional() }),
      querystring: z.object({ filename: Filename.optional() }),
      body: z.union([ImportJsonShape, ImportCsv]),
      response: { 202: Accepted, ...errorResponses },
    },
  }, async (request, reply) => {
    const input = readImportBody(request.body, request.headers['content-type'], request.query.filename ?? request.headers['x-filename']);
    const content = importContent(input);
    const stored = await acceptImport(accept, caller(request), input, content, idempotencyOf(request, { content: content.hash }));
    return sendAccepted(reply, stored);
  });

  app.get('/imports/:id', {
    schema: {
      tags: ['leads'],
      summary: 'An import: its job status, counts and per-row errors (first 1000)',
      params: IdParam,
      response: { 200: Import, ...errorResponses },
    },
  }, async (request) => importView(await findImport(pool, caller(request).businessId, request.params.id)));
};
