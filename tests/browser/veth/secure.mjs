// On a real network path (scripts/browser-test-veth: the server at 198.18.0.1, this
// browser at 198.18.0.2, a veth pair between two network namespaces), over HTTPS with
// a certificate from a test CA that Chromium trusts through its NSS database — never
// --ignore-certificate-errors: two halls' pages get their (fake) camera and microphone
// and each decodes the other's video and hears its audio.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { BASE, OUT, api, launch, login } from "../helpers.mjs";
import { openRoom, suddenMeeting, waitMedia } from "../media.mjs";

assert.match(BASE, /^https:\/\/198\.18\.0\.1:\d+$/, "HOINGHI_URL is the server's HTTPS address on the veth pair");

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("without the test CA in its NSS database Chromium refuses the certificate", async () => {
  // The same browser, but a HOME whose NSS database is empty: the trust comes from there.
  const bare = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu"],
    env: { ...process.env, HOME: mkdtempSync(join(tmpdir(), "hoinghi-no-ca-")) },
  });
  try {
    const page = await bare.newPage();
    const failure = await page.goto(`${BASE}/login`).then(() => null, (e) => e.message);
    assert.match(failure ?? "loaded", /ERR_CERT_AUTHORITY_INVALID/);
  } finally {
    await bare.close();
  }
});

/** Records the page's Content-Security-Policy violations in window.__csp (every page of the context). */
async function watchCsp(context) {
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
}
const violations = (page) => page.evaluate(() => window.__csp);

test("staff pages over HTTPS break no Content-Security-Policy rule; the session cookie is Secure", async () => {
  const { id } = await suddenMeeting("Họp đột xuất: thử trang quản lý qua HTTPS");
  const meeting = [`/meetings/${id}`, `/meetings/${id}/console`, `/meetings/${id}/attendance`];
  for (const [user, paths] of [
    ["vp.tinh", ["/", "/my", "/units", "/meetings/new", "/reports", ...meeting]],
    ["admin", ["/admin/units", "/admin/halls", "/admin/accounts"]],
  ]) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "vi-VN" });
    await watchCsp(context);
    const refused = [];
    const page = await context.newPage();
    page.on("console", (m) => {
      if (/Content Security Policy|Permissions-Policy/i.test(m.text())) refused.push(m.text());
    });
    try {
      await login(page, user);
      const cookie = (await context.cookies()).find((c) => c.name === "hoinghi_session");
      assert.ok(cookie?.secure, `${user}: the session cookie is Secure (${JSON.stringify(cookie)})`);
      for (const path of paths) {
        const res = await page.goto(`${BASE}${path}`);
        assert.equal(res.status(), 200, path);
        assert.ok(res.headers()["strict-transport-security"], `${path}: HSTS`);
        if (path === "/meetings/new") {
          // The form's scripts at work: the invitation count comes from the API.
          await page.check("#level-province");
          await page.waitForFunction(() => document.getElementById("invite-count")?.textContent.trim() !== "0", null, { timeout: 10_000 });
        }
        await page.waitForTimeout(300);
        assert.deepEqual(await violations(page), [], `${path}: CSP violations`);
      }
      assert.deepEqual(refused, [], "nothing refused in the console");
    } finally {
      await context.close();
    }
  }
});

test("over HTTPS on 198.18.0.1 two halls' cameras and microphones reach each other", async () => {
  const meeting = await suddenMeeting("Họp đột xuất: thử HTTPS qua mạng thật");
  for (const hall of meeting.halls) assert.ok(hall.join_url.startsWith(`${BASE}/j/`), hall.join_url);
  const [host, commune] = await Promise.all(meeting.halls.slice(0, 2).map((h) => openRoom(browser, h, "", (p) => watchCsp(p.context()))));
  try {
    for (const page of [host, commune]) {
      const ctx = await page.evaluate(() => ({
        secure: window.isSecureContext,
        devices: typeof navigator.mediaDevices?.getUserMedia,
        origin: location.origin,
      }));
      assert.deepEqual(ctx, { secure: true, devices: "function", origin: BASE });
    }
    const [hostId, communeId] = await Promise.all([host, commune].map((p) => p.evaluate(() => window.hoinghi.hallId())));
    console.log("commune receives", JSON.stringify(await waitMedia(commune, { video: [hostId], audio: [hostId] })));
    await api(`/meetings/${meeting.id}/live`, {
      token: meeting.token,
      method: "POST",
      body: { type: "give_floor", hall_id: communeId },
    });
    console.log("host receives", JSON.stringify(await waitMedia(host, { video: [communeId], audio: [communeId] })));
    for (const page of [host, commune]) assert.deepEqual(await violations(page), [], "room pages: CSP violations");
    await commune.screenshot({ path: `${OUT}veth-https-commune.png` });
  } finally {
    await Promise.all([host, commune].map((p) => p.context().close()));
    await api(`/meetings/${meeting.id}/live`, {
      token: meeting.token,
      method: "POST",
      body: { type: "set_phase", phase: "ended" },
    }).catch(() => {});
  }
});
