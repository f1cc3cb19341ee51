/**
 * The served OpenAPI document is valid OpenAPI 3, and every route says what it answers: a 2xx
 * and the error envelope. A new route without `response` fails here (and shows no body in /docs).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { compileErrors, validate } from '@readme/openapi-parser';
import { ApiErrorBody, type Import, type Receipt } from '../../src/contract/index.js';
import type { importView } from '../../src/leads/imports.service.js';
import type { receiptView } from '../../src/receipts/receipts.service.js';
import { collectRoutes, endpointKey, type RegisteredRoute } from '../helpers/endpoints.js';
import { createTenant, startTestEnv, type TestEnv } from '../helpers/harness.js';

/*
 * Views outside the contract's reach (they live in service files) must return exactly the
 * contract's shape: a field the schema lacks would be stripped from the answer without a word.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const importViewIsImport: Same<ReturnType<typeof importView>, Import> = true;
const receiptViewIsReceipt: Same<ReturnType<typeof receiptView>, Receipt> = true;

/** The dashboard's static files are no part of the API (hidden from /docs; src/web/dashboard.routes.ts). */
const NOT_API = new Set(['GET /', 'GET /assets/app.js', 'GET /assets/app.css']);

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** The parts of an OpenAPI 3.0 document this file reads. */
interface Schema {
  properties?: Record<string, Schema>;
  required?: string[];
}
interface Response {
  content?: Record<string, { schema?: Schema }>;
}
interface Operation {
  responses: Record<string, Response>;
}
interface Document {
  openapi: string;
  paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
}

let env: TestEnv;
let doc: Document;

before(async () => {
  env = await startTestEnv({ worker: false });
  const res = await env.app.inject({ url: '/docs/json' });
  assert.equal(res.statusCode, 200);
  doc = res.json();
});
after(() => env.close());

/** `/api/v1/jobs/:id` → `/api/v1/jobs/{id}`, as @fastify/swagger writes paths. */
const openApiPath = (url: string): string => url.replace(/:([a-z_]+)/g, '{$1}');

function operations(d: Document): Array<{ key: string; op: Operation }> {
  return Object.entries(d.paths).flatMap(([path, item]) =>
    METHODS.flatMap((m) => {
      const op = item[m];
      return op ? [{ key: `${m.toUpperCase()} ${path}`, op }] : [];
    }));
}

/** The body schema of a response (its first media type); the document has no $refs. */
const schemaOf = (response: Response | undefined): Schema | undefined => Object.values(response?.content ?? {})[0]?.schema;

describe('OpenAPI document', () => {
  test('views kept in service files return exactly the contract\'s shapes', () => {
    assert.ok(importViewIsImport && receiptViewIsReceipt);
  });

  test('/docs/json is a valid OpenAPI 3 document', async () => {
    assert.match(doc.openapi, /^3\./);
    // The parser dereferences in place: give it a copy.
    const result = await validate(structuredClone(doc) as never);
    assert.ok(result.valid, result.valid ? '' : compileErrors(result));
    assert.equal(result.specification, 'OpenAPI');
  });

  test('every operation documents a 2xx answer with its body and the error envelope for 4xx and 5xx', () => {
    const ops = operations(doc);
    assert.ok(ops.length >= 40, `only ${ops.length} operations in the document`);
    const problems: string[] = [];
    for (const { key, op } of ops) {
      const success = Object.entries(op.responses).filter(([status]) => /^2/.test(status));
      if (success.length === 0) problems.push(`${key}: no 2xx response`);
      for (const [status, response] of success) {
        // 204 has no body by definition; every other success names its content.
        if (status !== '204' && !schemaOf(response)) problems.push(`${key}: ${status} has no body schema`);
      }
      for (const range of ['4XX', '5XX']) {
        const error = schemaOf(op.responses[range]);
        const fields = error?.properties?.error?.properties;
        if (!fields?.code || !fields.message || !error?.required?.includes('error')) {
          problems.push(`${key}: ${range} is not the error envelope`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test('every route of the app declares its responses, and every route not hidden is in the document', async () => {
    const routes = await collectRoutes(env);
    const documented = new Set(operations(doc).map((o) => o.key));
    const problems: string[] = [];
    for (const [key, route] of routes) {
      if (NOT_API.has(key)) continue;
      const schema = route.schema as (RegisteredRoute['schema'] & { hide?: boolean; response?: Record<string, unknown> }) | undefined;
      const statuses = Object.keys(schema?.response ?? {});
      if (!statuses.some((s) => /^2\d\d$/.test(s))) problems.push(`${key}: no 2xx response schema`);
      if (!statuses.includes('4xx')) problems.push(`${key}: no 4xx response schema`);
      if (!schema?.hide && !documented.has(endpointKey({ method: route.method, url: openApiPath(route.url) }))) {
        problems.push(`${key}: missing from /docs/json`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('an error answer really is the envelope the document promises', async () => {
    const t = await createTenant(env);
    const res = await env.app.inject({ url: '/api/v1/jobs/999999999', headers: t.headers });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(ApiErrorBody.strict().parse(res.json()).error.code, 'not_found');
  });
});
