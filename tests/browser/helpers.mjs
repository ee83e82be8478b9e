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

/** Headless Debian chromium (never a downloaded browser). */
export function launch() {
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
    ],
  });
}

/** A fresh page with its own cookies, sized like a kiosk PC's screen. */
export async function freshPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "vi-VN" });
  return context.newPage();
}

export async function login(page, username, password = PASSWORD) {
  await page.goto(`${BASE}/login`);
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
