// Why HTTPS is required (scripts/browser-test-veth): the same join page served over
// plain HTTP on the server's network address 198.18.0.1 is not a secure context, so
// Chromium gives it no navigator.mediaDevices — no camera, no microphone — even with
// the permission prompt answered yes (--use-fake-ui-for-media-stream).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, OUT, launch } from "../helpers.mjs";
import { suddenMeeting } from "../media.mjs";

assert.match(BASE, /^http:\/\/198\.18\.0\.1:\d+$/, "HOINGHI_URL is the server's plain-HTTP address on the veth pair");

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("over plain HTTP on 198.18.0.1 the join page cannot get the camera", async () => {
  const meeting = await suddenMeeting("Họp đột xuất: thử HTTP không bảo mật");
  const hall = meeting.halls[1];
  assert.ok(hall.join_url.startsWith(`${BASE}/j/`), hall.join_url);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "vi-VN" });
  try {
    const page = await context.newPage();
    await page.goto(hall.join_url);
    const seen = await page.evaluate(async () => {
      let camera;
      try {
        await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
        camera = "granted";
      } catch (e) {
        camera = `${e.name}: ${e.message}`;
      }
      return { secure: window.isSecureContext, mediaDevices: typeof navigator.mediaDevices, camera };
    });
    console.log("over HTTP:", JSON.stringify(seen));
    assert.equal(seen.secure, false, "a LAN address over HTTP is not a secure context");
    assert.equal(seen.mediaDevices, "undefined", "no navigator.mediaDevices");
    assert.match(seen.camera, /^TypeError/, "getUserMedia cannot even be called");
    await page.screenshot({ path: `${OUT}veth-http-join.png` });
  } finally {
    await context.close();
  }
});
