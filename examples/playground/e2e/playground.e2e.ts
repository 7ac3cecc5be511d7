/**
 * End-to-end: serves the built playground (examples/playground/dist, from `vite build`) on
 * 127.0.0.1 and drives it in Debian's Chromium through playwright-core (nothing downloads a
 * browser). Starts a short sHC run, waits for the loss to fall below its first value, checks
 * the heatmaps rendered and the page answers a pause within a second, re-runs the same seed,
 * and saves a screenshot to out/playground.png; then trains the tiny transformer briefly.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = resolve(here, '../dist');
const outDir = resolve(here, '../../../out');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const MIME: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/** A static file server for dist/ on an ephemeral port of 127.0.0.1. */
function serve(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(root, path.endsWith('/') ? `${path}index.html` : path);
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    // the cross-origin isolation headers the Vite config sends too: they let the page use threads
    res
      .writeHead(200, {
        'content-type': MIME[extname(file)] ?? 'application/octet-stream',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      })
      .end(readFileSync(file));
  });
  return new Promise((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', () => ok(server)));
}

let server: Server;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(join(dist, 'index.html')))
    throw new Error(`playground e2e: ${dist}/index.html is missing; build it first (pnpm test:e2e does)`);
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `playground e2e: no Chromium at ${CHROMIUM}; install Debian's ` +
        `package (apt-get install chromium) or set CHROMIUM_PATH`,
    );
  }
  server = await serve(dist);
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, timeout: 30_000 });
  } catch (err) {
    throw new Error(
      `playground e2e: Chromium at ${CHROMIUM} did not launch: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(msg.text());
  });
  const { port } = server.address() as AddressInfo;
  await page.goto(`http://127.0.0.1:${port}/`);
});

afterAll(async () => {
  await browser?.close();
  await new Promise((ok) => (server ? server.close(ok) : ok(undefined)));
});

const testId = (id: string): string => `[data-testid="${id}"]`;
const statusIs = (status: string, timeout: number): Promise<unknown> =>
  page.waitForFunction((s) => document.querySelector('[data-testid="status"]')?.textContent === s, status, { timeout });
const firstLoss = async (): Promise<string> => {
  await page.waitForFunction(
    () => (document.querySelector<HTMLElement>('[data-testid="first-loss"]')?.dataset.value ?? '') !== '',
    null,
    { timeout: 30_000 },
  );
  return (await page.getAttribute(testId('first-loss'), 'data-value'))!;
};

describe('playground in Chromium', () => {
  it("is cross-origin isolated, and with ?threads=2 loads the tensor package's worker pool", async () => {
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await page.waitForFunction(() => document.querySelector('[data-testid="threads"]')?.textContent !== '–', null, {
      timeout: 10_000,
    });
    expect(await page.textContent(testId('threads'))).toBe('1 (0 workers loaded)');
    const threaded = await browser.newPage();
    const errors: string[] = [];
    threaded.on('pageerror', (err) => errors.push(err.message));
    const { port } = server.address() as AddressInfo;
    await threaded.goto(`http://127.0.0.1:${port}/?threads=2`);
    // the pool's worker is a module Vite bundled from threads.ts's `new Worker(new URL(…))`
    await threaded.waitForFunction(
      () => document.querySelector<HTMLElement>('[data-testid="threads"]')?.dataset.loaded === '1',
      null,
      { timeout: 20_000 },
    );
    expect(await threaded.textContent(testId('threads'))).toBe('2 (1 worker loaded)');
    expect(errors).toEqual([]);
    await threaded.close();
  });

  it('trains sHC live, draws the heatmaps, pauses promptly and repeats a seed exactly', async () => {
    const n = 4;
    const depth = 6;
    await page.selectOption(testId('task'), 'mlp');
    await page.selectOption(testId('variant'), 'shc');
    await page.fill(testId('n'), String(n));
    await page.fill(testId('depth'), String(depth));
    await page.fill(testId('seed'), '7');
    await page.dispatchEvent(testId('seed'), 'change');
    await statusIs('ready', 20_000);

    await page.click(testId('start'));
    await statusIs('running', 5_000);
    const first = Number(await firstLoss());
    expect(Number.isFinite(first) && first > 0).toBe(true);
    // the displayed loss is the mean of the last 10 batch losses; training must push it below the first
    await page.waitForFunction(
      (f) => {
        const v = Number(document.querySelector<HTMLElement>('[data-testid="loss"]')?.dataset.value);
        return Number(document.querySelector('[data-testid="step"]')?.textContent) >= 10 && v < f;
      },
      first,
      { timeout: 60_000, polling: 200 },
    );

    // one n×n heatmap per layer, with cells of more than one colour
    await page.waitForSelector(testId('heatmap'), { timeout: 10_000 });
    const maps = await page.$$eval(testId('heatmap'), (svgs) =>
      svgs.map((svg) => Array.from(svg.querySelectorAll('rect'), (r) => r.getAttribute('fill'))),
    );
    expect(maps).toHaveLength(depth);
    for (const fills of maps) expect(fills.length).toBeGreaterThanOrEqual(n * n);
    expect(new Set(maps.flat()).size).toBeGreaterThan(1);
    expect(await page.$$eval(`${testId('composite-gain')} polyline`, (lines) => lines.length)).toBe(2);

    mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: join(outDir, 'playground.png'), fullPage: true });

    // responsiveness: the worker acknowledges a pause within a second, and stepping stops
    const clicked = Date.now();
    await page.click(testId('pause'));
    await statusIs('paused', 1_000);
    expect(Date.now() - clicked).toBeLessThan(1_000);
    await page.waitForTimeout(300); // let the last in-flight slice land
    const stepAtPause = await page.textContent(testId('step'));
    await page.waitForTimeout(500);
    expect(await page.textContent(testId('step'))).toBe(stepAtPause);

    // the same seed gives the same run
    await page.click(testId('reset'));
    await statusIs('ready', 20_000);
    await page.click(testId('start'));
    expect(Number(await firstLoss())).toBe(first);
    await page.click(testId('pause'));
    await statusIs('paused', 1_000);

    expect(pageErrors).toEqual([]);
  });

  it('trains the tiny transformer with HC: one heatmap per attention and MLP connection', async () => {
    const depth = 1;
    await page.selectOption(testId('task'), 'transformer');
    await page.selectOption(testId('variant'), 'hc');
    await page.fill(testId('depth'), String(depth));
    await page.dispatchEvent(testId('depth'), 'change');
    await statusIs('ready', 20_000);
    await page.click(testId('start'));
    await statusIs('running', 5_000);
    // the first step posts the diagnostics; the shared colour scale then has a legend
    await page.waitForFunction(
      (count) => document.querySelectorAll('[data-testid="heatmap"]').length === count,
      2 * depth,
      { timeout: 30_000 },
    );
    expect(Number(await firstLoss())).toBeGreaterThan(0);
    await page.click(testId('pause'));
    await statusIs('paused', 1_000);
    expect(pageErrors).toEqual([]);
  });
});
