// The host's other console controls, in real Chromium pages: paging the monitoring grid,
// the spotlight, mute all, removing and readmitting a hall, locking the meeting. What
// each page shows and plays is checked (getStats), not just the server's state.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { OUT, api, launch } from "./helpers.mjs";
import { openRoom, suddenMeeting, waitMedia, waitState } from "./media.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const hallIdOf = (page) => page.evaluate(() => window.hoinghi.hallId());
const print = (label, value) => console.log(`${label} ${JSON.stringify(value)}`);
/** Halls whose video fills one of the page's receive slots. */
const videoHalls = (page) => page.evaluate(() => window.hoinghi.tiles().filter((t) => t.kind === "video").map((t) => t.hallId).sort());
const row = (id) => `#con-halls tr[data-hall="${id}"]`;

test("the host pages its grid, spotlights, mutes all, removes and readmits, locks", async () => {
  const meeting = await suddenMeeting("Họp đột xuất: thử các nút điều khiển");
  const pages = [];
  try {
    // The host's page with a grid of 2 tiles, so three halls make two pages.
    pages.push(await openRoom(browser, meeting.halls[0], "?tiles=2"));
    for (const hall of meeting.halls.slice(1)) pages.push(await openRoom(browser, hall));
    const [host, a, b, c] = pages;
    const [, aId, bId, cId] = await Promise.all(pages.map(hallIdOf));
    host.on("dialog", (d) => d.accept());
    await host.waitForSelector("#console:not([hidden])", { timeout: 10_000 });
    await host.click("#con-started");
    await host.waitForFunction(() => /^4\/\d+ điểm cầu đã kết nối$/.test(document.getElementById("con-ready").textContent), null, { timeout: 20_000 });

    // Grid paging: page 1 of 2 shows two halls, page 2 the third — decoded, not just named.
    await host.waitForSelector("#con-grid:not([hidden])", { timeout: 10_000 });
    await host.waitForFunction(() => document.getElementById("con-page").textContent === "Trang 1/2", null, { timeout: 10_000 });
    await host.waitForFunction(() => window.hoinghi.tiles().filter((t) => t.kind === "video").length === 2, null, { timeout: 10_000 });
    const first = await videoHalls(host);
    const third = [aId, bId, cId].find((id) => !first.includes(id));
    print("grid page 1", first);
    await waitMedia(host, { video: first });
    await host.click("#con-next");
    await host.waitForFunction(() => document.getElementById("con-page").textContent === "Trang 2/2", null, { timeout: 10_000 });
    print("grid page 2: the host decodes the third hall", await waitMedia(host, { video: [third] }));
    assert.deepEqual(await videoHalls(host), [third], "page 2 shows only the third hall");
    await host.click("#con-prev");
    await host.waitForFunction(() => document.getElementById("con-page").textContent === "Trang 1/2", null, { timeout: 10_000 });

    // Spotlight on C: hall A (not the host, nobody has the floor) now shows and decodes C.
    await host.click(`${row(cId)} button[data-act="spotlight"]`);
    print("A decodes the spotlit hall C", await waitMedia(a, { video: [cId] }));
    await host.click("#con-unspot");
    await a.waitForFunction((id) => !window.hoinghi.tiles().some((t) => t.hallId === id && t.kind === "video"), cId, { timeout: 10_000 });

    // Mute all: every hall but the host is muted and stops sending audio; the host is not.
    await host.click("#con-muteall");
    for (const page of [a, b, c]) {
      await page.waitForFunction(() => window.hoinghi.muted() && window.hoinghi.sending().audio.join() === "false", null, { timeout: 10_000 });
      assert.equal((await page.textContent("#mic-state")).trim(), "Micrô đang tắt");
    }
    assert.equal(await host.evaluate(() => window.hoinghi.muted()), false, "the host keeps its microphone");

    // Remove B: its page says so and stops; the others no longer list it. Readmit: it
    // can come back with its button.
    await host.click(`${row(bId)} button[data-act="remove"]`);
    await b.waitForFunction(() => window.hoinghi.state === "removed", null, { timeout: 10_000 });
    assert.equal(await b.textContent("#join-state"), "Điểm cầu đã bị mời ra khỏi cuộc họp");
    await a.waitForFunction((id) => !window.hoinghi.halls().some((h) => h.hallId === id), bId, { timeout: 10_000 });
    await b.screenshot({ path: `${OUT}controls-removed.png` });
    await host.waitForSelector(`${row(bId)} button[data-act="readmit"]`, { timeout: 10_000 });
    await host.click(`${row(bId)} button[data-act="readmit"]`);
    await host.waitForSelector(`${row(bId)} button[data-act="readmit"]`, { state: "detached", timeout: 10_000 });
    await b.click("#rejoin");
    await waitState(b, "connected");
    print("B is back and decodes the host", await waitMedia(b, { video: [meeting.host.id] }));

    // Lock: a hall that leaves (its leave button; closing the page is not leaving)
    // cannot come back while the meeting is locked.
    await host.click("#con-lock");
    await host.waitForFunction(() => document.getElementById("con-lock").textContent === "Mở khóa cuộc họp", null, { timeout: 10_000 });
    await c.click("#leave");
    await host.waitForFunction((id) => !document.querySelector(`#con-halls tr[data-hall="${id}"] button[data-act="give"]`), cId, { timeout: 10_000 });
    await c.close();
    const again = await c.context().newPage();
    await again.goto(meeting.halls[3].join_url);
    await again.waitForFunction(() => window.hoinghi?.state === "ended", null, { timeout: 15_000 });
    assert.equal(await again.textContent("#join-state"), "Cuộc họp đã khóa, không vào thêm được");
    await again.screenshot({ path: `${OUT}controls-locked.png` });
  } finally {
    for (const p of pages) await p.context().close().catch(() => {});
    await api(`/meetings/${meeting.id}/live`, { token: meeting.token, method: "POST", body: { type: "set_phase", phase: "ended" } }).catch(() => {});
  }
});
