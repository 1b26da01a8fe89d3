// End to end: examples/browser trains the MNIST MLP on WebGPU in headless Chromium (Debian's
// chromium, WebGPU on SwiftShader's Vulkan driver, so no GPU is needed), driven by playwright-core.
// The page's final state is checked and a screenshot kept in test-artifacts/browser-webgpu.png.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { DemoState } from '../examples/browser/main.js';
import { startServer, type DemoServer } from '../examples/browser/serve.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCREENSHOT = path.join(ROOT, 'test-artifacts', 'browser-webgpu.png');
const BACKEND = 'webgpu';
/** How long training may take on SwiftShader before the test gives up. */
const TRAINING_TIMEOUT_MS = 90_000;

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--enable-features=Vulkan',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('examples/browser in headless Chromium', () => {
  let server: DemoServer | undefined;
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it(`trains the MNIST MLP on the ${BACKEND} backend and shows its progress`, async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} not found: this test needs Debian's chromium package (and SwiftShader with it); run scripts/setup-webgpu.sh`);
    }
    server = await startServer({ port: 0 });
    profile = await mkdtemp(path.join(tmpdir(), 'weir-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1000, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    // An uncaught error (the script failing to load, say) ends the wait at once.
    const uncaught = new Promise<never>((_, reject) =>
      page.on('pageerror', (e) => {
        pageErrors.push(e.message);
        reject(new Error(`uncaught error in the page: ${e.message}`));
      }),
    );
    uncaught.catch(() => {});
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });

    const start = performance.now();
    await page.goto(`${server.url}?backend=${BACKEND}`);
    const finished = page.waitForFunction(
      () => window.weirDemo !== undefined && (window.weirDemo.done || window.weirDemo.error !== null),
      null,
      { timeout: TRAINING_TIMEOUT_MS },
    );
    await Promise.race([finished, uncaught]);
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const s: DemoState = await page.evaluate(() => window.weirDemo);

    console.log(
      `browser e2e: ${s.step} steps on ${s.backend} (${s.adapter || 'no adapter'}) in ${s.seconds.toFixed(1)} s of training, ` +
        `${((performance.now() - start) / 1000).toFixed(1)} s with page load; test accuracy ${s.accuracy}`,
    );
    expect(s.error, `the page failed (screenshot: ${SCREENSHOT})`).toBeNull();
    expect(pageErrors).toEqual([]);
    expect(s.status).toBe('done');
    expect(s.backend).toBe(BACKEND);
    expect(s.adapter).not.toBe('');
    expect(s.totalSteps).toBeGreaterThanOrEqual(100);
    expect(s.step).toBe(s.totalSteps);
    expect(s.losses).toHaveLength(s.totalSteps);
    expect(s.losses.every(Number.isFinite)).toBe(true);
    // Cross-entropy over 10 classes starts near ln 10 = 2.3; training must take it well down.
    const first = mean(s.losses.slice(0, 20));
    const last = mean(s.losses.slice(-20));
    expect(first).toBeGreaterThan(1);
    expect(last).toBeLessThan(0.5 * first);
    expect(s.accuracies).toHaveLength(s.epochs);
    expect(s.accuracy).toBe(s.accuracies[s.epochs - 1]);
    expect(s.accuracy!).toBeGreaterThan(0.75); // chance is 0.1

    // What the page shows.
    expect(await page.textContent('#backend')).toMatch(/WebGPU/);
    expect(await page.textContent('#adapter')).toContain(s.adapter);
    expect(await page.textContent('#step')).toBe(`${s.totalSteps} / ${s.totalSteps}`);
    expect(await page.textContent('#accuracy')).toBe(`${(100 * s.accuracy!).toFixed(1)}%`);
    expect(await page.textContent('#status')).toMatch(/^Done/);
    // The loss curve is on the canvas: count pixels in the smoothed loss's colour (#4f46e5).
    const curvePixels = await page.evaluate(() => {
      const c = document.getElementById('chart') as HTMLCanvasElement;
      const px = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < px.length; i += 4) {
        if (Math.abs(px[i]! - 0x4f) < 12 && Math.abs(px[i + 1]! - 0x46) < 12 && Math.abs(px[i + 2]! - 0xe5) < 12 && px[i + 3]! > 200) n++;
      }
      return n;
    });
    expect(curvePixels).toBeGreaterThan(500);
  }, TRAINING_TIMEOUT_MS + 30_000);
});
