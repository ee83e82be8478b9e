// Shared by the browser tests: Debian's chromium through playwright-core, logins, waits.
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const BASE = process.env.HOINGHI_URL;
if (!BASE) throw new Error("set HOINGHI_URL to the server under test (scripts/browser-test does)");
export const PASSWORD = "hoinghi-demo";
/** Screenshots go to test-output/browser/ at the repository root. */
export const OUT = fileURLToPath(new URL("../../test-output/browser/", import.meta.url));
mkdirSync(OUT, { recursive: true });

/**
 * Headless Debian chromium (never a downloaded browser); `camera`: a Y4M file its fake
 * camera shows instead of the test pattern (see pictures.mjs).
 */
export function launch({ camera } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Media: a fake camera (test pattern) and microphone (beeps), granted without asking;
      // WebRTC over loopback, which scripts/browser-test keeps in a loopback-only namespace.
      "--use-fake-device-for-media-stream",
      "--use-fake-ui-for-media-stream",
      "--allow-loopback-in-peer-connection",
      // Several pages share one browser: keep the hidden ones running at full speed.
      "--disable-background-timer-throttling",
      "--disable-renderer-backgrounding",
      "--disable-backgrounding-occluded-windows",
      ...(camera ? [`--use-file-for-fake-video-capture=${camera}`] : []),
    ],
  });
}

/** A fresh page with its own cookies, sized like a kiosk PC's screen. */
export async function freshPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "vi-VN" });
  return context.newPage();
}

export async function login(page, username, password = PASSWORD, base = BASE) {
  await page.goto(`${base}/login`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await Promise.all([page.waitForLoadState("load"), page.click("button[type=submit]")]);
}

/** Waits (up to 10 s) until #id shows exactly `text`, then returns what it shows. */
export async function textOf(page, id, text) {
  await page
    .waitForFunction(([i, t]) => document.getElementById(i)?.textContent.trim() === t, [id, text], {
      timeout: 10_000,
    })
    .catch(() => {});
  return (await page.textContent(`#${id}`)).trim();
}

/**
 * A JSON API call (`/api/v1` + path) with a bearer token; throws on an error status.
 * `base`: another server than the one under test (a test that runs its own).
 */
export async function api(path, { token, method = "GET", body, base = BASE } = {}) {
  const headers = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${base}/api/v1${path}`, { method, headers, body: body && JSON.stringify(body) });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
