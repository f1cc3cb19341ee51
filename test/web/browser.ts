/**
 * What the browser tests share (test/web/*.test.ts): Chromium started next to the test
 * environment, a fresh context per page (its own cookies and storage, as another person's
 * browser), the uncaught exceptions of every page, the two ways of signing in, and screenshots.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Debian's chromium package (.ci/run installs it); CHROMIUM_PATH points elsewhere. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's package (apt-get install -y chromium, as .ci/run does) or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
  });
}

/** One Chromium for a test file. */
export class Chromium {
  /** Uncaught exceptions in any page of any test; each file's last test asserts there were none. */
  readonly pageErrors: string[] = [];
  private readonly contexts: BrowserContext[] = [];

  constructor(private readonly browser: Browser) {}

  /** A page in a fresh context. */
  async newPage(): Promise<Page> {
    const context = await this.browser.newContext({ viewport: { width: 1280, height: 800 } });
    // tsx compiles the functions given to page.evaluate with esbuild's keepNames, which calls a
    // __name helper that exists only in Node.
    await context.addInitScript('window.__name = (f) => f');
    this.contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (err) => this.pageErrors.push(`${page.url()}: ${err.message}`));
    return page;
  }

  /**
   * Closes the pages opened so far (each test's, after it): an open dashboard page keeps polling
   * the API (the gauge, runs, progress) and rendering, and the pages of earlier tests did so until
   * the file ended.
   */
  async closePages(): Promise<void> {
    await Promise.all(this.contexts.splice(0).map((c) => c.close()));
  }

  async close(): Promise<void> {
    await this.closePages();
    await this.browser.close();
  }
}

/**
 * Starts the test environment and Chromium together. Both settle before anything is thrown, and
 * what did start is closed when the other did not: a missing Chromium must not leave a started
 * environment open (the file then never exits and the whole suite hangs).
 */
export async function startWithChromium<E extends { close(): Promise<void> }>(env: Promise<E>): Promise<{ env: E; chromium: Chromium }> {
  const [started, launched] = await Promise.allSettled([env, launch()]);
  if (started.status === 'fulfilled' && launched.status === 'fulfilled') return { env: started.value, chromium: new Chromium(launched.value) };
  await Promise.allSettled([
    started.status === 'fulfilled' ? started.value.close() : null,
    launched.status === 'fulfilled' ? launched.value.close() : null,
  ]);
  throw started.status === 'rejected' ? started.reason : (launched as PromiseRejectedResult).reason;
}

/**
 * The link `npm start` prints (`/#token=…`): signed in once the header names who, then on to
 * `hash` (`#/settings`) when given.
 */
export async function signInWithToken(page: Page, baseUrl: string, token: string, hash = ''): Promise<void> {
  await page.goto(`${baseUrl}/#token=${encodeURIComponent(token)}`);
  await page.locator('header .who').waitFor();
  if (hash) await page.evaluate((h) => (location.hash = h), hash);
}

/** The sign-in form (English labels), then `hash` when given. */
export async function signInWithPassword(page: Page, baseUrl: string, email: string, password: string, hash = ''): Promise<void> {
  await page.goto(`${baseUrl}/${hash}`);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('header .who').waitFor();
}

/**
 * Screenshots go to docs/screenshots with UPDATE_SCREENSHOTS=1 (then commit them), or to
 * SCREENSHOTS_DIR when set (to look at them without touching the tree); an ordinary `npm test`
 * takes none (a full-page PNG costs Chromium ~0.1 s of CPU, and nobody looked at them).
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs/screenshots') : process.env.SCREENSHOTS_DIR;
  if (!dir) return;
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}
