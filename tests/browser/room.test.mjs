// Browser media tests of the meeting room (/j/{token}): real Chromium pages with a fake
// camera and microphone join a sudden meeting through the real server and SFU, over
// loopback only (scripts/browser-test runs the server and these tests in a loopback-only
// network namespace). Media is judged by the pages' own getStats, never by timing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { OUT, api, launch } from "./helpers.mjs";
import { openRoom as openRoomIn, sleep, stats, suddenMeeting, waitMedia, waitState } from "./media.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Opens a hall's join link in a context of its own and waits until it is connected. */
const openRoom = (hall) => openRoomIn(browser, hall);

/** A host control through the secretariat's HTTP route (docs/protocol.md, "The chaired meeting"). */
const live = (meeting, body) => api(`/meetings/${meeting.id}/live`, { token: meeting.token, method: "POST", body });

const hallIdOf = (page) => page.evaluate(() => window.hoinghi.hallId());

async function report(label, page) {
  const me = await page.evaluate(() => document.querySelector(".tile-self figcaption").textContent);
  const sent = await page.evaluate(() => window.hoinghi.sendStats());
  console.log(`${label} — ${me}; sends ${JSON.stringify(sent)}`);
}

const print = (label, figures) => console.log(label, JSON.stringify(figures));

test("two halls join one meeting and each decodes the other's video and audio", async () => {
  const meeting = await suddenMeeting("Họp đột xuất: thử hai điểm cầu");
  const [host, commune] = await Promise.all(meeting.halls.slice(0, 2).map(openRoom));
  try {
    const [hostId, communeId] = await Promise.all([hallIdOf(host), hallIdOf(commune)]);
    // Halls other than the host join muted; the host sees them in its grid.
    assert.equal(await commune.evaluate(() => window.hoinghi.muted()), true, "a commune joins muted");
    assert.equal((await commune.textContent("#mic-state")).trim(), "Micrô đang tắt");
    print("commune receives", await waitMedia(commune, { video: [hostId], audio: [hostId] }));
    // Given the floor, the commune's microphone opens and the host hears it.
    await live(meeting, { type: "give_floor", hall_id: communeId });
    await commune.waitForFunction(() => !window.hoinghi.muted(), null, { timeout: 10_000 });
    assert.equal((await commune.textContent("#mic-state")).trim(), "Micrô đang mở");
    print("host receives", await waitMedia(host, { video: [communeId], audio: [communeId] }));
    await report("host", host);
    await report("commune", commune);
    // The commune shows the host large, labelled with its name, and says it is connected.
    const stageLabel = await commune.textContent("#stage figcaption");
    assert.match(stageLabel, /^Điểm cầu chính: /);
    assert.ok(stageLabel.includes(meeting.host.name), stageLabel);
    assert.equal((await commune.textContent("#join-state")).trim(), "Đã kết nối");
  } finally {
    await Promise.all([host, commune].map((p) => p.context().close()));
  }
});

test("a hall that adds a track renegotiates on the same connection; nobody sees it leave", async () => {
  const meeting = await suddenMeeting("Họp đột xuất: chia sẻ màn hình");
  const [host, commune] = await Promise.all(meeting.halls.slice(0, 2).map(openRoom));
  try {
    const hostId = await hallIdOf(host);
    await waitMedia(commune, { video: [hostId] });
    // The host adds a second video track (a canvas standing in for getDisplayMedia, which
    // needs a person to pick a screen) and offers again with `renegotiate: true`.
    const before = await host.evaluate(() => {
      const canvas = document.createElement("canvas");
      canvas.width = 320;
      canvas.height = 180;
      const g = canvas.getContext("2d");
      let n = 0;
      setInterval(() => { g.fillStyle = `hsl(${(n += 7) % 360} 60% 50%)`; g.fillRect(0, 0, 320, 180); }, 50);
      const stream = canvas.captureStream(20);
      window.hoinghi.pc.addTransceiver(stream.getVideoTracks()[0], { direction: "sendonly", streams: [stream] });
      window.__pcBefore = window.hoinghi.pc;
      window.hoinghi.renegotiate();
      return window.hoinghi.events.filter((e) => e === "answer").length;
    });
    await host.waitForFunction((n) => window.hoinghi.events.filter((e) => e === "answer").length > n, before, { timeout: 20_000 });
    assert.ok(await host.evaluate(() => window.hoinghi.pc === window.__pcBefore), "the same connection");
    // The commune now decodes the host's newest track (its slot's source never changed).
    print("commune receives after renegotiation", await waitMedia(commune, { video: [hostId] }));
    const left = await commune.evaluate(() => window.hoinghi.events.filter((e) => e.startsWith("participant_left") || e.startsWith("error")));
    assert.deepEqual(left, [], "nobody left, nothing failed");
    assert.deepEqual(await host.evaluate(() => window.hoinghi.events.filter((e) => e.startsWith("error"))), []);
  } finally {
    await Promise.all([host, commune].map((p) => p.context().close()));
  }
});

// docs/protocol.md: a reloaded page's join replaces its session; the others see no
// change and the attendance record keeps one interval with one reconnect.
test("a hall that reloads its page stays in the meeting: one interval, one reconnect", async () => {
  const meeting = await suddenMeeting("Họp đột xuất: tải lại trang");
  const [host, commune] = await Promise.all(meeting.halls.slice(0, 2).map(openRoom));
  try {
    const [hostId, communeId] = await Promise.all([hallIdOf(host), hallIdOf(commune)]);
    await waitMedia(commune, { video: [hostId] });
    const presence = () => host.evaluate((id) => window.hoinghi.presence.filter((p) => p.hallId === id), communeId);
    const before = await presence();
    await commune.reload();
    await waitState(commune, "connected", 30_000);
    print("after the reload, commune receives", await waitMedia(commune, { video: [hostId], audio: [hostId] }));
    assert.deepEqual(await presence(), before, "the host saw the commune neither leave nor join");
    assert.ok((await host.evaluate(() => window.hoinghi.halls())).some((h) => h.hallId === communeId), "the host still lists it");
    // The record: one interval, one reconnect, not ended (written asynchronously: bounded wait).
    let row = null;
    for (let i = 0; i < 20; i++) {
      const { rows } = await api(`/meetings/${meeting.id}/attendance`, { token: meeting.token });
      row = rows.find((r) => r.hall_id === communeId);
      if (row?.reconnects === 1) break;
      await sleep(500);
    }
    print("the commune's attendance", row);
    assert.equal(row.intervals, 1, "one interval");
    assert.equal(row.reconnects, 1, "one reconnect");
    assert.equal(row.last_leave, null, "still present");
  } finally {
    await Promise.all([host, commune].map((p) => p.context().close()));
    await live(meeting, { type: "set_phase", phase: "ended" }).catch(() => {});
  }
});

// docs/protocol.md: close code 1012 (service restart) is not final; the page comes back.
// Playwright passes the page's socket through and closes the page's side with 1012, as
// a server that restarts gracefully would.
test("a page whose socket closes with 1012 (the server restarts) comes back by itself", async () => {
  const meeting = await suddenMeeting("Họp đột xuất: máy chủ khởi động lại");
  let socket = null;
  let sockets = 0;
  const page = await openRoomIn(browser, meeting.halls[1], "", (p) => p.routeWebSocket(/\/ws$/, (ws) => {
    sockets += 1;
    socket = ws;
    ws.connectToServer();
  }));
  try {
    await socket.close({ code: 1012, reason: "service restart" });
    await page.waitForFunction(() => window.hoinghi.events.filter((e) => e === "welcome").length === 2, null, { timeout: 20_000 }).catch(() => {});
    await waitState(page, "connected", 30_000);
    assert.equal(sockets, 2, "one new socket");
    assert.equal(await page.evaluate(() => window.hoinghi.events.filter((e) => e === "welcome").length), 2, "welcomed again");
    assert.equal((await page.textContent("#join-state")).trim(), "Đã kết nối");
  } finally {
    await page.context().close();
    await live(meeting, { type: "set_phase", phase: "ended" }).catch(() => {});
  }
});

// Four halls in one meeting, shared by the next tests (closing one, reconnecting one):
// the host, commune A (given the floor), a district (spotlighted) and commune B.
let four = null;
async function fourHalls() {
  if (four) return four;
  const meeting = await suddenMeeting("Họp đột xuất: thử bốn điểm cầu");
  const pages = [];
  for (const hall of meeting.halls) pages.push(await openRoom(hall));
  const ids = await Promise.all(pages.map(hallIdOf));
  await live(meeting, { type: "give_floor", hall_id: ids[1] });
  await live(meeting, { type: "spotlight", hall_id: ids[2] });
  four = { meeting, pages, ids };
  return four;
}
after(async () => {
  for (const p of four?.pages ?? []) await p.context().close().catch(() => {});
});

test("four halls join; each decodes the halls the policy shows it", async () => {
  const { pages, ids } = await fourHalls();
  const [host, a, district, b] = ids;
  // docs/protocol.md: a hall's video slots show the host, the floor holder and the
  // spotlight (never itself); the host's show the floor holder and its grid of everyone;
  // audio comes from the host and the floor holder (the others are muted).
  const expected = [
    { video: [a, district, b], audio: [a] },
    { video: [host, district], audio: [host] },
    { video: [host, a], audio: [host, a] },
    { video: [host, a, district], audio: [host, a] },
  ];
  for (const [i, page] of pages.entries()) {
    print(`hall ${ids[i]} receives`, await waitMedia(page, expected[i]));
    const tiles = await page.evaluate(() => window.hoinghi.tiles());
    const shown = [...new Set(tiles.filter((t) => t.kind === "video").map((t) => t.hallId))].sort();
    assert.deepEqual(shown, [...expected[i].video].sort(), `video tiles of hall ${ids[i]}`);
    assert.equal(await page.locator("#grid .tile, #stage .tile").count(), expected[i].video.length, "one tile per hall");
  }
  for (const [i, page] of pages.entries()) await report(`hall ${ids[i]}`, page);
  await pages[0].screenshot({ path: `${OUT}room-4-host.png` });
  await pages[3].screenshot({ path: `${OUT}room-4-commune.png` });
  // Commune B sees the host on the stage and the two others in the grid.
  assert.equal(await pages[3].locator("#stage .tile").count(), 1);
  assert.equal(await pages[3].locator("#grid .tile").count(), 2);
  assert.match(await pages[3].textContent("#stage figcaption"), /^Điểm cầu chính: /);
});

test("a hall that closes its page disappears from the others after the grace period", async () => {
  const { pages, ids } = await fourHalls();
  // The spotlighted district: shown on the host's, commune A's and commune B's pages.
  const gone = ids[2];
  const [closing] = pages.splice(2, 1);
  ids.splice(2, 1);
  const started = Date.now();
  await closing.close();
  // Closing a page is not leaving (only the leave button is): the hall stays for the
  // 10 s grace period, in case the page comes back, then the others lose it.
  for (const page of pages) {
    await page
      .waitForFunction((id) => !window.hoinghi.tiles().some((t) => t.hallId === id), gone, { timeout: 25_000 })
      .catch(() => {});
    const tiles = await page.evaluate(() => window.hoinghi.tiles());
    assert.ok(!tiles.some((t) => t.hallId === gone), `hall ${gone} is gone: ${JSON.stringify(tiles)}`);
    assert.equal(await page.locator(`.tile[data-hall="${gone}"]`).count(), 0, "its tile is removed");
    assert.ok(!(await page.evaluate(() => window.hoinghi.halls())).some((h) => h.hallId === gone), "and it is not listed");
  }
  const reasons = await pages[0].evaluate(() => window.hoinghi.events.filter((e) => e.startsWith("participant_left")));
  console.log(`hall ${gone} closed; the others removed it within ${Date.now() - started} ms (${reasons.join(", ")})`);
  assert.deepEqual(reasons, ["participant_left:network_lost"], "no `leave` as the page closed: the grace period ran out");
});

test("a hall that loses its socket reconnects and its media resumes", async () => {
  const { pages, ids } = await fourHalls();
  // Commune B: in the host's grid; it sees the host and commune A, who holds the floor.
  const [host, , commune] = pages;
  const [hostId, floorId, communeId] = ids;
  await commune.evaluate(() => window.hoinghi.ws.close());
  await waitState(commune, "reconnecting", 5_000);
  assert.equal((await commune.textContent("#join-state")).trim(), "Mất kết nối — đang kết nối lại…");
  await waitState(commune, "connected", 30_000);
  assert.equal((await commune.textContent("#join-state")).trim(), "Đã kết nối");
  // Its new connection receives the host and commune A again.
  print("after reconnecting, commune B receives", await waitMedia(commune, { video: [hostId, floorId], audio: [hostId, floorId] }));
  const seen = await host.evaluate((id) => window.hoinghi.presence.filter((p) => p.hallId === id), communeId);
  assert.deepEqual(seen.map((p) => p.type), ["participant_joined"], `the host saw it join once, never leave: ${JSON.stringify(seen)}`);
});

// A receive slot whose source switches to another track (a reconnected hall's new track)
// keeps its sequence numbers going, so the browser's SRTP replay window accepts it.
test("the others decode a reconnected hall's video again", async () => {
  const { pages, ids } = await fourHalls();
  print("after reconnecting, host receives", await waitMedia(pages[0], { video: [ids[2]] }, 15_000));
});
