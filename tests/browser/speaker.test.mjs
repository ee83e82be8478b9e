// Browser test of who speaks now: what halls see when the server says `active_speaker`
// (docs/protocol.md) — a "Đang nói" marker on the speaking hall's tile and in the room's
// bar, on the hall's own picture, and on the host's console. Each page's socket to the
// real server is passed through Playwright, which says who speaks (the server's own
// `active_speaker` frames are held back so that the test alone decides): the SFU's
// detection is tested in the sfu and signaling suites; this is the pages' side.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { OUT, api, launch } from "./helpers.mjs";
import { openRoom, suddenMeeting } from "./media.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const live = (meeting, body) => api(`/meetings/${meeting.id}/live`, { token: meeting.token, method: "POST", body });
const hallIdOf = (page) => page.evaluate(() => window.hoinghi.hallId());

/** Opens a hall's room with its socket passed through; returns the page and `say(hallId)`. */
async function openSpoken(hall) {
  let socket = null; // the page's side of its latest WebSocket
  const page = await openRoom(browser, hall, "", (p) => p.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    socket = ws;
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => { if (!/"type":"active_speaker"/.test(m)) ws.send(m); });
  }));
  const say = (hallId) => socket.send(JSON.stringify({ type: "active_speaker", hall_id: hallId }));
  return { page, say };
}

/** Waits (bounded) until `selector` matches on `page`; says what the bar shows if it never does. */
async function shows(page, selector, what) {
  const found = await page.waitForSelector(selector, { timeout: 10_000 }).then(() => true, () => false);
  assert.ok(found, `${what} (${selector}); the bar says "${await page.textContent("#speaker")}"`);
}

test("the hall that speaks is marked on the others' tiles, its own picture and the host's console", async () => {
  const meeting = await suddenMeeting("Họp đột xuất: ai đang nói");
  const [hostHall, communeHall] = meeting.halls;
  const [host, commune] = await Promise.all([hostHall, communeHall].map(openSpoken));
  const pages = [host.page, commune.page];
  const say = (hallId) => { host.say(hallId); commune.say(hallId); };
  try {
    const [hostId, communeId] = await Promise.all(pages.map(hallIdOf));
    await host.page.waitForSelector("#console:not([hidden])", { timeout: 10_000 });
    // The host's grid shows the commune, the commune's stage the host.
    await host.page.waitForSelector(`#grid .tile[data-hall="${communeId}"]`, { timeout: 20_000 });
    await commune.page.waitForSelector(`#stage .tile[data-hall="${hostId}"]`, { timeout: 20_000 });
    assert.equal(await commune.page.isVisible("#speaker"), false, "nobody speaks yet");

    // The host speaks.
    say(hostId);
    await shows(commune.page, `#stage .tile.speaking[data-hall="${hostId}"]`, "the commune marks the host's tile");
    assert.match(await commune.page.textContent(`#stage .tile[data-hall="${hostId}"] figcaption`), / · Đang nói/);
    assert.equal((await commune.page.textContent("#speaker")).trim(), `Đang nói: ${hostHall.hall_name}`);
    await shows(host.page, "#self-tile.speaking", "the host's own picture is marked");
    await shows(host.page, `#con-halls tr.speaking[data-hall="${hostId}"]`, "the host's console marks its row");
    assert.equal((await host.page.textContent("#con-speaker")).trim(), hostHall.hall_name);
    assert.equal(await commune.page.locator("#self-tile.speaking").count(), 0, "the commune's picture is not marked");

    // The commune speaks: the marks move.
    say(communeId);
    await shows(host.page, `#grid .tile.speaking[data-hall="${communeId}"]`, "the host marks the commune's tile");
    assert.match(await host.page.textContent(`.tile[data-hall="${communeId}"] figcaption`), / · Đang nói/);
    await shows(host.page, `#con-halls tr.speaking[data-hall="${communeId}"]`, "the host's console marks the commune's row");
    assert.equal((await host.page.textContent("#con-speaker")).trim(), communeHall.hall_name);
    assert.equal(await host.page.locator(`#con-halls tr.speaking[data-hall="${hostId}"]`).count(), 0, "not the host's row");
    assert.equal(await host.page.locator("#self-tile.speaking").count(), 0, "nor the host's picture");
    await shows(commune.page, "#self-tile.speaking", "the commune's own picture is marked");
    assert.equal((await commune.page.textContent("#speaker")).trim(), `Đang nói: ${communeHall.hall_name}`);
    assert.doesNotMatch(await commune.page.textContent(`#stage .tile[data-hall="${hostId}"] figcaption`), /Đang nói/);
    await host.page.screenshot({ path: `${OUT}speaker-host.png` });
    await commune.page.screenshot({ path: `${OUT}speaker-commune.png` });

    // Nobody speaks: no mark anywhere.
    say(null);
    await commune.page.waitForSelector("#speaker", { state: "hidden", timeout: 10_000 });
    await host.page.waitForSelector("#con-speaker-line", { state: "hidden", timeout: 10_000 });
    for (const page of pages) assert.equal(await page.locator(".speaking").count(), 0, "no tile or row is marked");
  } finally {
    await Promise.all(pages.map((p) => p.context().close()));
    await live(meeting, { type: "set_phase", phase: "ended" }).catch(() => {});
  }
});
