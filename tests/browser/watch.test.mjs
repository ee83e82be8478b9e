// The viewer page (/watch/{token}, issue 15 item 5) in real Chromium: a lobby screen opens
// a WHEP viewer link before the meeting starts and waits; once the host starts it, the
// page decodes the main picture (the host's camera) and the halls' audio over WHEP; the
// staff see one viewer; revoked, the page says so. A wrong link gets a clear page. And the
// other way: a presentation PC publishes over WHIP from Chromium, the host's console lists
// it as a source, gives it the floor, and a commune hall shows it labelled as a source.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, OUT, api, freshPage, launch } from "./helpers.mjs";
import { openRoom, sleep, suddenMeeting, waitMedia } from "./media.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const watchState = (page) => page.evaluate(() => window.hoinghiWatch.state());

async function waitWatchState(page, want, timeout) {
  await page.waitForFunction((s) => window.hoinghiWatch?.state() === s, want, { timeout, polling: 250 }).catch(() => {});
  const now = { state: await watchState(page), text: await page.textContent("#watch-state") };
  assert.equal(now.state, want, `viewer page state (shows "${now.text}")`);
  return now.text;
}

/** Waits until the viewer page decodes video frames and receives audio with energy, both rising. */
async function waitWatchMedia(page, timeout = 40_000) {
  const deadline = Date.now() + timeout;
  const first = await page.evaluate(() => window.hoinghiWatch.stats());
  let last = first;
  const rose = () =>
    (last.video?.framesDecoded ?? 0) >= (first.video?.framesDecoded ?? 0) + 10 &&
    (last.audio?.packets ?? 0) >= (first.audio?.packets ?? 0) + 20 &&
    (last.audio?.audioEnergy ?? 0) > 0;
  while (Date.now() < deadline && !rose()) {
    await sleep(500);
    last = await page.evaluate(() => window.hoinghiWatch.stats());
  }
  assert.ok(rose(), `viewer decodes video and hears audio: ${JSON.stringify({ first, last })}`);
  return last;
}

test("a WHEP viewer page waits for the meeting, then shows its main picture and sound", async () => {
  const meeting = await suddenMeeting("Họp: màn hình sảnh xem qua WHEP");
  const made = await api(`/meetings/${meeting.id}/feeds`, {
    token: meeting.token,
    method: "POST",
    body: { kind: "viewer", name: "Màn hình sảnh UBND tỉnh" },
  });
  assert.equal(made.watch_url, `${BASE}/watch/${made.token}`);
  const pages = [];
  try {
    // Opened before the meeting starts: the page waits and says so.
    const lobby = await freshPage(browser);
    pages.push(lobby);
    lobby.on("console", (m) => { if (m.type() === "error") console.log(`[lobby] ${m.text()}`); });
    await lobby.goto(made.watch_url);
    assert.match(await lobby.textContent(".room-meta .sub"), /Đường xem: Màn hình sảnh UBND tỉnh/);
    const waiting = await waitWatchState(lobby, "not_live", 15_000);
    assert.equal(waiting, "Cuộc họp chưa bắt đầu hoặc đã kết thúc; trang sẽ tự thử lại.");

    // The host comes in and starts the meeting; the page retries by itself and plays.
    const host = await openRoom(browser, meeting.halls[0]);
    pages.push(host);
    await api(`/meetings/${meeting.id}/live`, { token: meeting.token, method: "POST", body: { type: "set_phase", phase: "started" } });
    assert.equal(await waitWatchState(lobby, "watching", 30_000), "Đang xem trực tiếp");
    // Autoplay starts muted; the screen's operator turns the sound on (and could off again).
    assert.equal(await lobby.evaluate(() => document.getElementById("watch-video").muted), true);
    await lobby.click("#watch-sound");
    assert.equal(await lobby.evaluate(() => document.getElementById("watch-video").muted), false);
    assert.equal(await lobby.textContent("#watch-sound"), "Tắt tiếng");
    const figures = await waitWatchMedia(lobby);
    console.log("viewer receives", JSON.stringify(figures));
    assert.ok(figures.video.frameWidth > 0, "a picture of some size");
    await lobby.screenshot({ path: `${OUT}watch-lobby.png` });

    // The staff see the viewer (not a hall).
    const listed = await api(`/meetings/${meeting.id}/feeds`, { token: meeting.token });
    assert.equal(listed.viewer_count, 1, JSON.stringify(listed.viewers));
    assert.equal(listed.viewers[0].name, "Màn hình sảnh UBND tỉnh");


    // Revoked: the session ends and the page, trying again, is told the link is gone.
    await api(`/meetings/${meeting.id}/feeds/${made.feed.id}/revoke`, { token: meeting.token, method: "POST", body: {} });
    assert.equal(await waitWatchState(lobby, "revoked", 45_000), "Đường dẫn xem đã bị thu hồi");
  } finally {
    await Promise.all(pages.map((p) => p.context().close()));
    await api(`/meetings/${meeting.id}/live`, { token: meeting.token, method: "POST", body: { type: "set_phase", phase: "ended" } }).catch(() => {});
  }
});

test("a wrong viewer link gets a page that says so", async () => {
  const page = await freshPage(browser);
  try {
    const res = await page.goto(`${BASE}/watch/khong-co-ma-nay`);
    assert.equal(res.status(), 404);
    assert.equal(await page.textContent("#watch-state"), "Đường dẫn xem không có hoặc đã bị thu hồi");
  } finally {
    await page.context().close();
  }
});

/** A Chromium page that publishes its fake camera and microphone to `url` over WHIP. */
async function whipPublisher(page, url) {
  await page.goto(`${BASE}/login`); // a secure context (loopback) for getUserMedia
  return page.evaluate(async (whip) => {
    const media = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
    const pc = new RTCPeerConnection();
    for (const track of media.getTracks()) pc.addTransceiver(track, { direction: "sendonly" });
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => { if (pc.iceGatheringState === "complete") r(); else { pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r(); setTimeout(r, 2000); } });
    const res = await fetch(whip, { method: "POST", headers: { "Content-Type": "application/sdp" }, body: pc.localDescription.sdp });
    if (res.status !== 201) return { status: res.status, body: await res.text() };
    await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
    window.whip = pc;
    return { status: 201, location: res.headers.get("Location") };
  }, url);
}

test("a WHIP source from a presentation PC is listed as a source and, given the floor, shown to the halls", async () => {
  const meeting = await suddenMeeting("Họp: trình chiếu qua WHIP");
  const made = await api(`/meetings/${meeting.id}/feeds`, {
    token: meeting.token,
    method: "POST",
    body: { kind: "ingest", name: "Máy trình chiếu phòng họp tỉnh" },
  });
  assert.equal(made.watch_url, null, "an ingest token has no player page");
  const sourceId = made.feed.participant_id;
  const pages = [];
  try {
    const host = await openRoom(browser, meeting.halls[0]);
    pages.push(host);
    const commune = await openRoom(browser, meeting.halls[1]);
    pages.push(commune);
    await api(`/meetings/${meeting.id}/live`, { token: meeting.token, method: "POST", body: { type: "set_phase", phase: "started" } });

    const pc = await freshPage(browser);
    pages.push(pc);
    const published = await whipPublisher(pc, made.url);
    assert.equal(published.status, 201, JSON.stringify(published));
    assert.match(published.location, /^\/whip\/session\//);

    // The host's board lists it first, marked as a source, without roll-call buttons.
    await host.waitForSelector("#console:not([hidden])", { timeout: 10_000 });
    const row = `#con-halls tr[data-hall="${sourceId}"]`;
    await host.waitForSelector(`${row}.source`, { timeout: 20_000 });
    const text = await host.textContent(row);
    assert.ok(text.includes("Máy trình chiếu phòng họp tỉnh") && text.includes("Nguồn phát (WHIP)"), text);
    await host.waitForFunction(() => / · 1 nguồn phát đang kết nối$/.test(document.getElementById("con-ready").textContent), null, { timeout: 20_000 });

    // Given the floor, it is the commune's main picture, labelled as a source.
    await host.click(`${row} button[data-act="give"]`);
    console.log("commune receives the source", JSON.stringify(await waitMedia(commune, { video: [sourceId] })));
    const label = await commune.locator("figure.tile figcaption", { hasText: "Máy trình chiếu phòng họp tỉnh" }).first().textContent();
    assert.match(label, /^Nguồn phát: Máy trình chiếu phòng họp tỉnh/);
    await commune.screenshot({ path: `${OUT}whip-source-commune.png` });

    // Ended by DELETE: gone from the board; a second DELETE is a clear 404.
    const first = await pc.evaluate((loc) => fetch(loc, { method: "DELETE" }).then((r) => r.status), published.location);
    assert.equal(first, 200);
    await host.waitForSelector(row, { state: "detached", timeout: 15_000 });
    const again = await pc.evaluate((loc) => fetch(loc, { method: "DELETE" }).then(async (r) => [r.status, await r.text()]), published.location);
    assert.equal(again[0], 404, again[1]);
  } finally {
    await Promise.all(pages.map((p) => p.context().close()));
    await api(`/meetings/${meeting.id}/live`, { token: meeting.token, method: "POST", body: { type: "set_phase", phase: "ended" } }).catch(() => {});
  }
});
