// A guest (khách mời, issue 13 item 6) in real Chromium pages: the secretariat invites a
// journalist to a sudden meeting, the guest's link opens the room page, and the guest
// appears on the host's board marked as a guest, counted apart from the halls; the host
// decodes its camera; revoked, the guest's page says so at once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { OUT, api, launch } from "./helpers.mjs";
import { openRoom, suddenMeeting, waitMedia } from "./media.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test("a guest link opens the room and the guest shows on the host's board as a guest", async () => {
  const meeting = await suddenMeeting("Họp đột xuất: có khách mời");
  const { guest } = await api(`/meetings/${meeting.id}/guests`, {
    token: meeting.token,
    method: "POST",
    body: { name: "Phóng viên Báo Phú Thọ", organisation: "Báo Phú Thọ", phone: "0912 345 678" },
  });
  assert.ok(guest.join_url.endsWith(`/j/${guest.join_token}`), guest.join_url);
  const pages = [];
  try {
    const host = await openRoom(browser, meeting.halls[0]);
    pages.push(host);
    const visitor = await openRoom(browser, { hall_name: guest.name, join_url: guest.join_url });
    pages.push(visitor);
    // The guest's page names it as a guest and offers no roll call or headcount.
    assert.equal(await visitor.evaluate(() => window.hoinghi.hallId()), guest.participant_id);
    assert.match(await visitor.textContent(".room-meta .sub"), /Khách mời: Phóng viên Báo Phú Thọ/);
    assert.equal(await visitor.isVisible("#hall-headcount"), false, "no headcount for a guest");
    assert.equal(await visitor.isVisible("#hall-hand"), true, "a guest may raise its hand");

    // The host's board: the guest's row is marked Khách mời; the count of halls is apart.
    await host.waitForSelector("#console:not([hidden])", { timeout: 10_000 });
    const row = `#con-halls tr[data-hall="${guest.participant_id}"]`;
    await host.waitForSelector(`${row}.guest`, { timeout: 20_000 });
    const text = await host.textContent(row);
    assert.ok(text.includes("Phóng viên Báo Phú Thọ") && text.includes("Khách mời"), text);
    await host.waitForFunction(() => / · 1 khách mời đang tham gia$/.test(document.getElementById("con-ready").textContent), null, { timeout: 20_000 });
    const ready = await host.textContent("#con-ready");
    assert.match(ready, /^1\/\d+ điểm cầu đã kết nối · 1 khách mời đang tham gia$/, ready);
    assert.equal(await host.locator(`${row} button[data-act="mark_present"]`).count(), 0);
    // The host decodes the guest's camera in its grid, its tile labelled as a guest's.
    console.log("host receives the guest", JSON.stringify(await waitMedia(host, { video: [guest.participant_id] })));
    const label = await host.locator("figure.tile figcaption", { hasText: "Phóng viên Báo Phú Thọ" }).first().textContent();
    assert.match(label, /^Khách mời: Phóng viên Báo Phú Thọ/);
    await host.screenshot({ path: `${OUT}guest-host-board.png`, fullPage: true });

    // Revoked: the guest's page stops at once and says why.
    await api(`/meetings/${meeting.id}/guests/${guest.id}/revoke`, { token: meeting.token, method: "POST", body: {} });
    await visitor.waitForFunction(() => document.getElementById("join-state").textContent === "Lời mời khách này đã bị thu hồi", null, { timeout: 10_000 });
    await host.waitForFunction((sel) => !document.querySelector(sel), row, { timeout: 10_000 });
  } finally {
    await Promise.all(pages.map((p) => p.context().close()));
    await api(`/meetings/${meeting.id}/live`, { token: meeting.token, method: "POST", body: { type: "set_phase", phase: "ended" } }).catch(() => {});
  }
});
