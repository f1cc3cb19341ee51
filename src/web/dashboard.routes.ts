import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLIENT = path.join(HERE, 'client');

interface Asset {
  body: string;
  type: string;
}

/**
 * The client is bundled by esbuild on the first request and kept in memory: ~30 ms once per
 * process, no build step for `npm start`, and no work at all for processes that never serve the
 * dashboard (workers, the many apps the tests build). A prebuilt bundle was the alternative; it
 * would have to be committed or built by every `npm install`, and could go stale.
 */
let assets: Promise<Map<string, Asset>> | null = null;

async function bundle(): Promise<Map<string, Asset>> {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [path.join(CLIENT, 'main.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  const js = out.outputFiles[0];
  if (!js) throw new Error('esbuild produced no output');
  const [html, css] = await Promise.all([
    readFile(path.join(CLIENT, 'index.html'), 'utf8'),
    readFile(path.join(CLIENT, 'app.css'), 'utf8'),
  ]);
  return new Map([
    ['/', { body: html, type: 'text/html; charset=utf-8' }],
    ['/assets/app.js', { body: js.text, type: 'text/javascript; charset=utf-8' }],
    ['/assets/app.css', { body: css, type: 'text/css; charset=utf-8' }],
  ]);
}

function loadAssets(): Promise<Map<string, Asset>> {
  assets ??= bundle().catch((err: unknown) => {
    assets = null;
    throw err;
  });
  return assets;
}

/**
 * The dashboard: three static files, no authentication (the page holds no data; it calls the API
 * with the user's bearer token). The API itself only accepts the token in the Authorization
 * header, so the page never puts it in a URL.
 */
export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  for (const url of ['/', '/assets/app.js', '/assets/app.css']) {
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      const asset = (await loadAssets()).get(url);
      if (!asset) return reply.callNotFound();
      return reply
        .header('content-type', asset.type)
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header(
          'content-security-policy',
          "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; media-src 'self' blob:; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        )
        .send(asset.body);
    });
  }
};
