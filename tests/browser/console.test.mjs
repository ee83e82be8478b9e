// Browser tests of the chaired meeting's pages: the host console inside the host hall's
// room, the halls' own controls (raise hand, roll call), and the kiosk page. Real
// Chromium pages with fake camera and microphone, over loopback only (scripts/browser-test).
// Media is judged by the pages' own getStats, never by timing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, OUT, api, launch, login } from "./helpers.mjs";
import { openRoom, sleep, stats, suddenMeeting, waitMedia, waitState } from "./media.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const hallIdOf = (page) => page.evaluate(() => window.hoinghi.hallId());
const print = (label, figures) => console.log(label, JSON.stringify(figures));
/** Audio packets received from `hallId` on `page` (0 when no slot carries it). */
async function audioFrom(page, hallId) {
  const t = (await stats(page)).find((x) => x.kind === "audio" && x.hallId === hallId);
  return t ? { slot: t.slot, n: t.packetsReceived ?? 0 } : { slot: null, n: 0 };
}

// The kiosk first: the console's meeting below would be its next meeting otherwise.
test("a hall's kiosk shows its next meeting, joins it by itself and comes back when it ends", async () => {
  const { token } = await api("/auth/login", { method: "POST", body: { username: "vp.tinh", password: "hoinghi-demo" } });
  const title = "Họp đột xuất: thử màn hình điểm cầu";
  const meeting = await suddenMeeting(title);
  // A commune hall's room account: dc.<its unit's code>.
  const commune = meeting.halls[3];
  const unit = await api(`/units/${commune.unit_id}`, { token });
  const code = unit.code ?? unit.unit?.code;
  assert.ok(code, `unit code of ${JSON.stringify(unit)}`);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "vi-VN" });
  const page = await context.newPage();
  await page.addInitScript(() => { window.HOINGHI_CAMERA = { width: 640, height: 360 }; });
  try {
    await login(page, `dc.${code}`);
    await page.goto(`${BASE}/kiosk`);
    // The meeting is open now: the kiosk says so in large text, then goes in by itself.
    await page.waitForSelector('#kiosk[data-state="joining"]', { timeout: 15_000 });
    assert.equal((await page.textContent("#kiosk-state")).trim(), "Đến giờ họp — đang vào phòng họp…");
    assert.equal((await page.textContent(".kiosk-hall")).trim(), commune.hall_name);
    await page.screenshot({ path: `${OUT}kiosk.png` });
    await page.waitForURL(/\/j\/[0-9a-f]+\?kiosk=1$/, { timeout: 15_000 });
    await waitState(page, "connected", 30_000);
    // The secretariat ends the meeting: the room says so and the kiosk page comes back.
    await api(`/meetings/${meeting.id}/live`, { token, method: "POST", body: { type: "set_phase", phase: "ended" } });
    await page.waitForURL(/\/kiosk\?done=\d+$/, { timeout: 30_000 });
    await page.waitForFunction(() => ["idle", "waiting", "joining"].includes(document.getElementById("kiosk")?.dataset.state), null, { timeout: 15_000 });
    const shown = (await page.isVisible("#kiosk-next")) ? (await page.textContent("#kiosk-title")).trim() : null;
    assert.notEqual(shown, title, "the ended meeting is not offered again");
    console.log(`kiosk of dc.${code} back: ${(await page.textContent("#kiosk-state")).trim()}`);
    await page.screenshot({ path: `${OUT}kiosk-after.png` });
  } finally {
    await context.close();
  }
});

/** The camera's simulcast layers (rid) whose packetsSent grew over ~1.5 s. */
async function layersSent(page) {
  const sample = () => page.evaluate(async () => {
    const sender = window.hoinghi.pc.getSenders().find((x) => x.track && x.track.kind === "video");
    const out = {};
    (await sender.getStats()).forEach((r) => { if (r.type === "outbound-rtp") out[r.rid || "-"] = r.packetsSent; });
    return out;
  });
  const first = await sample();
  await sleep(1500);
  const second = await sample();
  const growing = Object.keys(second).filter((rid) => second[rid] > (first[rid] || 0)).sort((x, y) => "qhf".indexOf(x) - "qhf".indexOf(y));
  return { first, second, growing };
}

test("the host runs the meeting from its console: floor, mute, hands, roll call", async () => {
  const meeting = await suddenMeeting("Họp đột xuất: thử bảng điều khiển");
  const pages = [];
  try {
    for (const hall of meeting.halls) pages.push(await openRoom(browser, hall));
    const [host, a, b, c] = pages;
    const [, aId, bId, cId] = await Promise.all(pages.map(hallIdOf));
    // Only the host's page shows the console; the others show their own controls.
    await host.waitForSelector("#console:not([hidden])", { timeout: 10_000 });
    assert.equal(await c.isHidden("#console"), true, "a hall has no console");
    assert.equal(await c.isVisible("#hall-hand"), true, "a hall can raise its hand");
    assert.equal(await host.isVisible("#hall-controls"), false, "the host has no hand to raise");
    await host.click("#con-test");
    await host.waitForFunction(() => document.getElementById("con-phase").textContent === "Đang kiểm tra kết nối", null, { timeout: 10_000 });
    await host.click("#con-started");
    await host.waitForFunction(() => document.getElementById("con-phase").textContent === "Đang họp", null, { timeout: 10_000 });
    // The readiness board counts the four halls in.
    await host.waitForFunction(() => /^4\/\d+ điểm cầu đã kết nối$/.test(document.getElementById("con-ready").textContent), null, { timeout: 20_000 });
    // Each hall's row shows its round trip once it has sent receiver reports.
    await host.waitForFunction((id) => {
      const row = document.querySelector(`#con-halls tr[data-hall="${id}"]`);
      return row && /RTT \d+ ms/.test(row.textContent);
    }, aId, { timeout: 20_000 });
    print("A's row on the board", await host.textContent(`#con-halls tr[data-hall="${aId}"]`));

    // The host gives hall B the floor with its console button, with a 3-minute limit.
    await host.fill("#con-limit", "3");
    const give = host.locator(`#con-halls tr[data-hall="${bId}"] button[data-act="give"]`);
    await give.waitFor({ timeout: 20_000 });
    await give.click();
    await b.waitForSelector("#hall-floor:not([hidden])", { timeout: 10_000 });
    assert.match(await b.textContent("#hall-floor"), /Điểm cầu đang được phát biểu — Còn lại [23]:\d\d/);
    await host.waitForFunction(() => /Còn lại: [23]:\d\d/.test(document.getElementById("con-time").textContent), null, { timeout: 10_000 });
    // Every other page plays B's video and hears B.
    for (const [label, page] of [["host", host], ["A", a], ["C", c]]) {
      print(`${label} receives B`, await waitMedia(page, { video: [bId], audio: [bId] }));
    }
    // Only what someone watches is sent: B (on the floor) sends its larger simulcast
    // layers, A and C — shown nowhere large — only the smallest (packets counted). With
    // the small fake camera Chromium itself never sends the top layer ("f").
    for (const [label, page, want] of [["B", b, ["q", "h"]], ["A", a, ["q"]], ["C", c, ["q"]]]) {
      let sent = null;
      for (let i = 0; i < 20 && !(sent && sent.growing.join() === want.join()); i++) {
        sent = await layersSent(page);
      }
      print(`${label} sends`, sent);
      assert.deepEqual(sent.growing, want, `${label} sends layers ${want}`);
    }

    // The host mutes B from the console: B's audio stops reaching hall C.
    await host.click(`#con-halls tr[data-hall="${bId}"] button[data-act="mute"]`);
    await b.waitForFunction(() => window.hoinghi.muted(), null, { timeout: 10_000 });
    // A muted page stops sending audio at all.
    await b.waitForFunction(() => window.hoinghi.sending().audio.join() === "false", null, { timeout: 10_000 });
    assert.equal((await b.textContent("#mic-state")).trim(), "Micrô đang tắt");
    // Bounded: wait until two samples 2 s apart are equal (a few packets may be in flight).
    let still = null;
    for (let i = 0; i < 10 && !still; i++) {
      const first = await audioFrom(c, bId);
      await sleep(2000);
      const second = await audioFrom(c, bId);
      if (first.slot === second.slot && first.n === second.n) still = { first, second };
    }
    print("C's audio from B after the mute", still);
    assert.ok(still, "B's audio packets keep arriving at hall C after the mute");
    await sleep(2000);
    const later = await audioFrom(c, bId);
    assert.ok(later.n === still.second.n || later.slot !== still.second.slot || later.slot === null, `B's audio is silent: ${JSON.stringify(later)}`);

    // Hall C raises its hand: it appears in the host's queue, in order.
    await c.click("#hall-hand");
    await host.waitForSelector(`#con-hands li[data-hall="${cId}"]`, { timeout: 10_000 });
    assert.match(await host.textContent(`#con-hands li[data-hall="${cId}"]`), /^1\./);
    await c.waitForFunction(() => document.getElementById("hall-hand").textContent === "Hạ tay", null, { timeout: 10_000 });
    await a.click("#hall-hand");
    await host.waitForSelector(`#con-hands li[data-hall="${aId}"]`, { timeout: 10_000 });
    assert.match(await host.textContent(`#con-hands li[data-hall="${aId}"]`), /^2\./);

    // A roll call answered from hall C's page appears on the host's board; A reports a headcount.
    await a.fill("#hall-people", "25");
    await a.click("#hall-headcount button");
    await host.click("#con-rollcall");
    await c.waitForSelector("#hall-rollcall:not([hidden])", { timeout: 10_000 });
    await c.click("#hall-present");
    await host.waitForFunction((id) => document.querySelector(`#con-halls tr[data-hall="${id}"] .rc`)?.textContent === "Có mặt", cId, { timeout: 15_000 });
    await host.waitForFunction((id) => document.querySelector(`#con-halls tr[data-hall="${id}"] .num`)?.textContent === "25", aId, { timeout: 15_000 });
    // The host ends the roll call: the halls' roll-call box closes, the console says so.
    await host.click("#con-rollcall-end");
    await c.waitForSelector("#hall-rollcall", { state: "hidden", timeout: 10_000 });
    await host.waitForSelector("#con-rc-over:not([hidden])", { timeout: 10_000 });
    assert.equal(await host.textContent("#con-rc-over"), "Điểm danh đã kết thúc");
    await host.evaluate(() => document.getElementById("console").scrollIntoView());
    await host.screenshot({ path: `${OUT}console-host.png` });
    await c.screenshot({ path: `${OUT}console-hall.png` });

    // The secretariat's console page (no media) shows the same meeting over HTTP.
    const staff = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "vi-VN" })).newPage();
    await login(staff, "vp.tinh");
    await staff.goto(`${BASE}/meetings/${meeting.id}/console`);
    await staff.waitForFunction(() => document.getElementById("con-phase")?.textContent === "Đang họp", null, { timeout: 15_000 });
    await staff.waitForSelector(`#con-hands li[data-hall="${cId}"]`, { timeout: 10_000 });
    await staff.screenshot({ path: `${OUT}console-secretariat.png` });
    await staff.context().close();
  } finally {
    for (const p of pages) await p.context().close().catch(() => {});
    await api(`/meetings/${meeting.id}/live`, { token: meeting.token, method: "POST", body: { type: "set_phase", phase: "ended" } }).catch(() => {});
  }
});
