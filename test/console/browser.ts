import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { inflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';

/** Debian's Chromium (test/run.sh installs it); playwright never downloads a browser here. */
export const CHROMIUM = process.env['SSF_CHROMIUM'] ?? '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  browser: Browser;
  /** A new page (own context: fresh sessionStorage) that records console errors and failed requests. */
  page(options?: { colorScheme?: 'light' | 'dark'; width?: number; height?: number }): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

/**
 * Headless Chromium driven over the DevTools protocol. Playwright gives it
 * a fresh --user-data-dir of its own (in the temp folder, removed on close);
 * it refuses one passed in the flags.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS.filter((f) => f !== '--headless') });
  return {
    browser,
    page: async (options = {}) => {
      const context = await browser.newContext({
        viewport: { width: options.width ?? 1440, height: options.height ?? 900 },
        colorScheme: options.colorScheme ?? 'light',
      });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (m: ConsoleMessage) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      return { page, errors };
    },
    close: async () => {
      await browser.close();
    },
  };
}

/** axe-core's source, to inject as a script (the page's CSP allows only its own scripts, so it goes in through the protocol). */
export function axeSource(): string {
  const require = createRequire(import.meta.url);
  return readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** Runs axe-core on the page; violations of impact serious or critical. */
export async function seriousAxeFindings(page: Page): Promise<AxeViolation[]> {
  // Through the protocol, not a <script>: the console's CSP refuses inline scripts (as it should).
  await page.evaluate(axeSource());
  // A string: it runs in the page, where axe and document are (this file is type-checked without the DOM library).
  const found = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
  })))`)) as AxeViolation[];
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * Not blank: the PNG's pixel data (inflated IDAT, filtered scanlines) is
 * not nearly all one value. A blank page is one colour, which every PNG
 * filter turns into runs of one byte.
 */
export function looksDrawn(png: Buffer): boolean {
  const idat: Buffer[] = [];
  for (let at = 8; at + 8 <= png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    if (type === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const counts = new Uint32Array(256);
  for (const b of raw) counts[b] = (counts[b] ?? 0) + 1;
  const most = Math.max(...counts);
  return (raw.length - most) / raw.length > 0.005;
}
