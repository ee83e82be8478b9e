// Recording a meeting with three Chromium halls, each filmed by a fake camera of its own
// colour (host green, A red, B blue): the host starts the recording from its page, every
// page says "Đang ghi hình", the floor moves from A to B, the host stops; the file taken
// from the meeting's recordings (with range requests, as the browser's player does) has
// one video and one audio stream lasting as long as the recording, and shows A, then B.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BASE, OUT, api, launch } from "./helpers.mjs";
import { openRoom, sleep, suddenMeeting, waitMedia } from "./media.mjs";
import { discover, framesPerSecond, nearestColour, solidCamera } from "./pictures.mjs";

const browsers = [];
after(async () => {
  await Promise.all(browsers.map((b) => b.close()));
});

const live = (meeting, body) => api(`/meetings/${meeting.id}/live`, { token: meeting.token, method: "POST", body });
const hallIdOf = (page) => page.evaluate(() => window.hoinghi.hallId());
const indicatorShown = (page) =>
  page.evaluate(() => {
    const el = document.getElementById("recording-indicator");
    return !!el && !el.hidden && el.offsetParent !== null;
  });

/** Waits (bounded) until every page shows, or hides, the recording indicator. */
async function waitIndicator(pages, shown) {
  for (const page of pages) {
    await page
      .waitForFunction(
        (want) => {
          const el = document.getElementById("recording-indicator");
          return !!el && (want ? !el.hidden && el.offsetParent !== null : el.hidden || el.offsetParent === null);
        },
        shown,
        { timeout: 15_000, polling: 200 },
      )
      .catch(() => {});
    assert.equal(await indicatorShown(page), shown, `the page ${shown ? "shows" : "no longer shows"} the recording`);
  }
}

/** GET with a bearer token and optional headers; the raw response. */
const get = (path, token, headers = {}) =>
  fetch(`${BASE}/api/v1${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });

test("a recording of three Chromium halls shows A, then B after the floor moves, and plays", async () => {
  const meeting = await suddenMeeting("Họp đột xuất: thử ghi hình");
  const [hostHall, aHall, bHall] = meeting.halls;
  const pages = [];
  for (const [hall, colour] of [[hostHall, "green"], [aHall, "red"], [bHall, "blue"]]) {
    const browser = await launch({ camera: solidCamera(colour) });
    browsers.push(browser);
    pages.push(await openRoom(browser, hall));
  }
  const [host, a, b] = pages;
  try {
    const [aId, bId] = await Promise.all([hallIdOf(a), hallIdOf(b)]);
    await waitMedia(host, { video: [aId, bId] });
    await live(meeting, { type: "set_phase", phase: "started" });
    await live(meeting, { type: "give_floor", hall_id: aId });
    await waitMedia(b, { video: [aId] });

    // The host starts the recording from its page; every hall is told at once.
    const toggle = host.locator("#recording-toggle");
    assert.equal((await toggle.textContent()).trim(), "Bắt đầu ghi hình");
    await toggle.click();
    const started = Date.now();
    await waitIndicator(pages, true);
    assert.match(await a.textContent("#recording-indicator"), /Đang ghi hình/);
    await host.screenshot({ path: `${OUT}recording-host.png` });
    await a.screenshot({ path: `${OUT}recording-hall.png` });

    await sleep(14_000);
    const switchedAt = (Date.now() - started) / 1000;
    await live(meeting, { type: "give_floor", hall_id: bId });
    await waitMedia(a, { video: [bId] });
    await sleep(14_000);
    assert.equal((await toggle.textContent()).trim(), "Dừng ghi hình");
    // Stopping asks the host to confirm.
    let asked = "";
    host.once("dialog", (d) => { asked = d.message(); d.accept(); });
    await toggle.click();
    const recordedFor = (Date.now() - started) / 1000;
    await waitIndicator(pages, false);
    assert.ok(asked.length > 0, "the host was asked to confirm the stop");

    // The meeting's recordings: one, finished.
    let row;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const { recordings } = await api(`/meetings/${meeting.id}/recordings`, { token: meeting.token });
      row = recordings[0];
      if (recordings.length === 1 && row.status !== "recording") break;
      await sleep(500);
    }
    assert.equal(row?.status, "finished", JSON.stringify(row));

    // Downloaded as a player would: a first range, then the rest.
    const head = await get(`/recordings/${row.id}/file`, meeting.token, { range: "bytes=0-1023" });
    assert.equal(head.status, 206);
    assert.equal(head.headers.get("content-type"), "video/webm");
    assert.equal((await head.arrayBuffer()).byteLength, 1024);
    const whole = await get(`/recordings/${row.id}/file`, meeting.token);
    assert.equal(whole.status, 200);
    const file = join(mkdtempSync(join(tmpdir(), "hoinghi-recording-")), "meeting.webm");
    writeFileSync(file, Buffer.from(await whole.arrayBuffer()));

    // One video and one audio stream, as long as the recording.
    const found = discover(file);
    assert.deepEqual(found.kinds.sort(), ["audio", "video"], found.text);
    const declared = row.duration_ms / 1000;
    assert.ok(Math.abs(found.duration - declared) < 1, `the file lasts ${found.duration} s, the server says ${declared} s`);
    assert.ok(Math.abs(found.duration - recordedFor) < 3, `the file lasts ${found.duration} s of ${recordedFor} s recorded`);

    // A's picture before the floor moved, B's after it (give or take the keyframe the
    // switch waits for and the file's start on the first keyframe): the second half is B.
    const colours = framesPerSecond(file).map(nearestColour);
    console.log(`the recording, a colour per second (floor to B at ${switchedAt.toFixed(1)} s):`, colours.join(" "));
    const before = colours.slice(1, Math.floor(switchedAt) - 2);
    const afterwards = colours.slice(Math.ceil(switchedAt) + 3);
    assert.ok(before.filter((c) => c === "red").length > before.length / 2, `A (red) before the change: ${colours}`);
    assert.ok(afterwards.length >= 8 && afterwards.every((c) => c === "blue"), `B (blue) after it: ${colours}`);
  } finally {
    await live(meeting, { type: "set_phase", phase: "ended" }).catch(() => {});
    await Promise.all(pages.map((p) => p.context().close()));
  }
});
