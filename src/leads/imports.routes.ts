import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import type { AcceptDeps } from '../gate/accept.js';
import { Accepted, errorResponses, Import } from '../contract/index.js';
import { caller } from '../http/auth.js';
import { markLanguage } from '../http/locale.js';
import { chargeWorkDuringBody } from '../http/request-budget.js';
import { IdempotencyHeaders, IdParam } from '../http/schemas.js';
import { idempotencyOf, sendAccepted } from '../http/accepted.js';
import { IMPORT_JSON_DOC, readImportBody } from './import-body.js';
import { CsvImportBody, readCsvImport } from './import-csv.js';
import { acceptImport, findImport, importView } from './imports.service.js';
import { Filename } from './leads.schemas.js';
import { need } from '../http/roles.js';

// The route schema only tells JSON from CSV: a zod union reports any problem inside the JSON as
// one "Invalid input" at the root, so readImportBody checks the JSON, keeping each issue's path
// (body.leads.3). A CSV body arrives already read (the parser below) and /docs shows it as text;
// it comes first in the union, since the loose object would copy it into a plain object.
const ImportJsonShape = z.looseObject({}).meta({ ...IMPORT_JSON_DOC, description: '{"leads": [{phone, name?, email?, tags?: string[]}], "filename"?: string}' });
const ImportCsv = z
  .custom<CsvImportBody>((body) => body instanceof CsvImportBody)
  .meta({ type: 'string', description: 'text/csv with a header row: phone,name,email,tags (tags separated by ";" or "|")' });

const CSV_TYPES = ['text/csv', 'text/plain'];

export const importRoutes = (pool: pg.Pool, accept: AcceptDeps): FastifyPluginAsyncZod => async (app) => {
  // CSV is streamed into the import as it arrives (import-csv.ts), in this plugin only: every
  // other route keeps the app's parser, which reads CSV as text to refuse it.
  app.removeContentTypeParser(CSV_TYPES);
  app.addContentTypeParser(CSV_TYPES, async (request: FastifyRequest, payload: Readable) => {
    const length = Number(request.headers['content-length']);
    return readCsvImport(payload, {
      bodyLimit: request.routeOptions.bodyLimit,
      contentLength: Number.isNaN(length) ? undefined : length,
    }, (busyBeforeEndMs) => {
      // The parsing done while the body arrived counts too, or a looped 100 001-row CSV would cost ~1.
      chargeWorkDuringBody(request, busyBeforeEndMs);
    });
  });

  app.post('/leads/import', {
    // Rows are the job's to judge, unstorable text included (a row error, not a 400 for the file);
    // the filename, query and headers stay under the API's text guard (CsvImportBody shows it
    // nothing to walk).
    config: { ...need('admin'), rowText: { bodyKeys: ['leads'] } },
    schema: {
      tags: ['leads'],
      summary: 'Import up to 100 000 leads from JSON or CSV; rows are validated by an import_leads job',
      description: 'Send JSON `{"leads": [{phone, name?, email?, tags?}], "filename"?}` or a `text/csv` body '
        + '(filename from `?filename=` or the `X-Filename` header). Answers 202 with the job and the import.',
      headers: IdempotencyHeaders.extend({ 'x-filename': Filename.optional() }),
      querystring: z.object({ filename: Filename.optional() }),
      body: z.union([ImportCsv, ImportJsonShape]),
      response: { 202: Accepted, ...errorResponses },
    },
  }, async (request, reply) => {
    const input = await readImportBody(request.body, request.query.filename ?? request.headers['x-filename']);
    const stored = await acceptImport(accept, caller(request), input, idempotencyOf(request, { content: input.content.hash }));
    return sendAccepted(reply, stored);
  });

  app.get('/imports/:id', {
    config: need('agent'),
    schema: {
      tags: ['leads'],
      summary: 'An import: its job status, counts and per-row errors (first 1000)',
      params: IdParam,
      response: { 200: Import, ...errorResponses },
    },
  }, async (request, reply) => {
    const imp = await findImport(pool, caller(request).businessId, request.params.id);
    // The rows' reasons are said in the reader's language.
    markLanguage(reply, request.locale);
    return importView(imp, request.locale);
  });
};
