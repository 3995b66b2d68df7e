// The dashboard in Chromium for the benchmarks (bench:dashboard, bench:busy-day): launch Debian's
// Chromium through playwright-core, sign in, and wait until a view is fully drawn.

import { chromium } from 'playwright-core';
import { ADMIN_TOKEN } from './processes.mjs';

// Headless Chromium says "HeadlessChrome" in its user agent; a desktop one makes the page see what a
// person's browser sends. Both places: the launch flag covers requests the context setting misses.
export const DESKTOP_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

export function launchChromium(executablePath) {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      `--user-agent=${DESKTOP_UA}`,
    ],
  });
}

export const newContext = (browser) =>
  browser.newContext({ viewport: { width: 1400, height: 900 }, userAgent: DESKTOP_UA });

/**
 * Opens `url/hash` in a fresh context (empty cache), signs in and times the click to `ready(page)`;
 * then (with `reload`) reloads (assets cached, sign-in remembered) and times that too. `requests`
 * lists the API requests ({ method, path, body }) the page made after the click (the signed-in load), in order. A panel
 * that shows an error fails the sign-in with its message.
 */
export async function signIn(browser, url, hash, ready, timeout = 60_000, reload = true) {
  const ctx = await newContext(browser);
  try {
    const page = await ctx.newPage();
    await page.goto(`${url}/${hash}`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    const requests = [];
    let recording = true;
    page.on('request', (r) => {
      const at = r.url().indexOf('/api/v1/');
      if (recording && at >= 0) {
        requests.push({ method: r.method(), path: r.url().slice(at + '/api/v1'.length), body: r.postData() });
      }
    });
    const t0 = performance.now();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await ready(page, timeout);
    await failed(page);
    const cold = performance.now() - t0;
    recording = false;
    if (!reload) return { cold, warm: null, requests };
    // Warm: the app's files come from the cache; the sign-in is remembered in sessionStorage, so this
    // is a reload — the time a returning user waits.
    const t1 = performance.now();
    await page.reload();
    await ready(page, timeout);
    await failed(page);
    const warm = performance.now() - t1;
    return { cold, warm, requests };
  } finally {
    await ctx.close();
  }
}

/** Throws with the first panel error the page shows (a request of the view failed). */
async function failed(page) {
  const alert = page.locator('.error[role="alert"]').first();
  if ((await alert.count()) > 0) throw new Error(`a panel failed: ${(await alert.textContent())?.trim()}`);
}

/** The overview: every card has its number, the chart's canvas exists, no section is still loading. */
export function overviewDrawn(page, timeout = 60_000) {
  return page.waitForFunction(
    () => {
      const view = document.querySelector('[data-testid="overview"]');
      if (!view) return false;
      if (view.querySelector('.error[role="alert"]')) return true; // failed: signIn says which
      const values = [...view.querySelectorAll('.card-value')].map((e) => e.textContent);
      if (values.length < 7 || values.some((v) => v === '…')) return false;
      if (!view.querySelector('[data-testid="chart-sessions"] canvas')) return false;
      if (view.querySelector('.loading')) return false;
      return view.querySelectorAll('.panel').length >= 10;
    },
    undefined,
    { timeout, polling: 'raf' },
  );
}

/** The MCP view: the tool-calls chart is drawn and no section is still loading. */
export function mcpDrawn(page, timeout = 60_000) {
  return page.waitForFunction(
    () => {
      const view = document.querySelector('[data-testid="mcp"]');
      if (!view) return false;
      if (view.querySelector('.error[role="alert"]')) return true; // failed: signIn says which
      if (!view.querySelector('[data-testid="chart-tools"] canvas')) return false;
      return !view.querySelector('.loading');
    },
    undefined,
    { timeout, polling: 'raf' },
  );
}
