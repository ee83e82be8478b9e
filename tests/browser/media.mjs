// Media helpers shared by the browser media tests (room.test.mjs, console.test.mjs,
// restart.test.mjs, cluster/failover.mjs): a sudden meeting for the province, a hall's
// room page, and media judged by getStats (also: back on a new connection after a loss).
import assert from "node:assert/strict";
import { BASE, PASSWORD, api } from "./helpers.mjs";

/**
 * A sudden meeting starting now for the whole province, hosted by the province hall
 * (on the server under test, or on `base`).
 */
export async function suddenMeeting(title, base = BASE) {
  const { token, account } = await api("/auth/login", {
    method: "POST",
    body: { username: "vp.tinh", password: PASSWORD },
    base,
  });
  const { halls } = await api("/halls", { token, base });
  const host = halls.find((h) => h.unit_id === account.unit_id);
  assert.ok(host, "the province has its own hall");
  const { meetings } = await api("/meetings", {
    token,
    base,
    method: "POST",
    body: {
      title,
      kind: "sudden",
      host_hall_id: host.id,
      starts_at: "now",
      duration_minutes: 60,
      scope: { root_unit_id: account.unit_id, levels: ["province", "commune"] },
      // The demo's own meetings (and earlier tests') may hold these halls now.
      override_reason: "Kiểm thử phòng họp trực tuyến",
    },
  });
  const { invitations } = await api(`/meetings/${meetings[0].id}/invitations`, { token, base });
  const byLevel = (level) => invitations.filter((i) => i.level === level);
  // The host, then three communes (the demo is on today's two-tier map: no districts; the
  // tests call the third, spotlighted one "the district").
  const halls4 = [byLevel("province")[0], byLevel("commune")[0], byLevel("commune")[2], byLevel("commune")[1]];
  for (const h of halls4) assert.ok(h?.join_url, "every hall has a join link");
  return { id: meetings[0].id, token, host, halls: halls4 };
}

/**
 * Opens a hall's join link in a context of its own and waits until it is connected;
 * `prepare(page)`, if given, runs before the page loads (e.g. to route its WebSocket).
 */
export async function openRoom(browser, hall, query = "", prepare = null) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "vi-VN" });
  const page = await context.newPage();
  if (prepare) await prepare(page);
  page.on("console", (m) => {
    if (m.type() === "warning" || m.type() === "error") console.log(`[${hall.hall_name}] ${m.text()}`);
  });
  // 360p keeps four pages' encoders within a 2-core machine, so Chrome never drops a
  // simulcast layer it had started (the page's frozen-tile watchdog, room.js, would then
  // ask for a lower layer).
  await page.addInitScript(() => {
    window.HOINGHI_CAMERA = { width: 640, height: 360 };
  });
  await page.goto(hall.join_url + query);
  await waitState(page, "connected", 30_000);
  return page;
}

export async function waitState(page, state, timeout = 30_000) {
  await page.waitForFunction((s) => window.hoinghi?.state === s, state, { timeout, polling: 200 }).catch(() => {});
  const now = await page.evaluate(() => ({ state: window.hoinghi?.state, text: document.getElementById("join-state").textContent }));
  assert.equal(now.state, state, `page state (shows "${now.text}")`);
}

export const stats = (page) => page.evaluate(() => window.hoinghi.stats());
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits (bounded) until `page` decodes video frames from every hall in `video` and
 * receives audio packets (with energy) from every hall in `audio`, each rising between
 * two samples of the same receive slot; returns the last figures per hall.
 */
export async function waitMedia(page, { video = [], audio = [] }, timeout = 40_000) {
  const deadline = Date.now() + timeout;
  const first = new Map();
  const want = [...video.map((id) => ["video", id]), ...audio.map((id) => ["audio", id])];
  const count = (kind, t) => (kind === "video" ? t.framesDecoded : t.packetsReceived);
  const enough = { video: 10, audio: 20 };
  let last = [];
  const progress = ([kind, id]) => {
    const t = last.find((x) => x.hallId === id && x.kind === kind);
    if (!t || count(kind, t) === undefined) return null;
    // A hall may move to another slot (another receiver): start counting again there.
    const key = `${kind}/${id}`;
    if (first.get(key)?.slot !== t.slot) first.set(key, { slot: t.slot, n: count(kind, t) });
    return { t, from: first.get(key).n, to: count(kind, t) };
  };
  const ok = (w) => {
    const p = progress(w);
    return p && p.to >= p.from + enough[w[0]] && (w[0] === "video" || p.t.totalAudioEnergy > 0);
  };
  while (Date.now() < deadline) {
    last = await stats(page);
    if (want.every(ok)) break;
    await sleep(500);
  }
  const summary = want.map((w) => {
    const p = progress(w);
    const t = p?.t ?? {};
    const figures = { kind: w[0], hallId: w[1], slot: t.slot, from: p?.from, to: p?.to };
    if (w[0] === "video") {
      Object.assign(figures, {
        size: t.frameWidth && `${t.frameWidth}x${t.frameHeight}`,
        packets: t.packetsReceived, lost: t.packetsLost, nack: t.nackCount, pli: t.pliCount,
        keyframes: t.keyFramesDecoded, dropped: t.framesDropped,
      });
    } else {
      Object.assign(figures, { energy: t.totalAudioEnergy && Number(t.totalAudioEnergy.toFixed(3)), lost: t.packetsLost });
    }
    return figures;
  });
  for (const [i, w] of want.entries()) {
    assert.ok(ok(w), `${w[0]} from hall ${w[1]}: ${JSON.stringify(summary[i])}`);
  }
  return summary;
}

/** Video frames a page must decode from a hall on its new connection to count as back. */
const FRESH_FRAMES = 5;

/** Marks each page's peer connection as the old one, before its server goes away. */
export function markConnections(pages) {
  return Promise.all(pages.map((p) => p.evaluate(() => { window.__oldPc = window.hoinghi.pc; })));
}

/**
 * For each page, the halls it must see: waits until every page decodes at least
 * FRESH_FRAMES video frames from each of them on a peer connection newer than the one
 * `markConnections` marked; returns when each page first had a new connection
 * (`joinedAt`) and first decoded enough (`backAt`), as performance.now() times by page
 * index, and the last figures.
 */
export async function freshMedia(pages, want, timeout) {
  const deadline = Date.now() + timeout;
  const backAt = new Map();
  /** When each page first had a new connection (its socket welcomed again). */
  const joinedAt = new Map();
  let last = [];
  while (Date.now() < deadline && backAt.size < pages.length) {
    last = await Promise.all(
      pages.map((page, i) =>
        backAt.has(i)
          ? null
          : page
              .evaluate(async () => {
                const fresh = window.hoinghi.pc && window.hoinghi.pc !== window.__oldPc;
                const tiles = fresh ? await window.hoinghi.stats() : [];
                return { fresh, tiles: tiles.filter((t) => t.kind === "video").map((t) => ({ hallId: t.hallId, frames: t.framesDecoded ?? 0 })) };
              })
              .catch((e) => ({ fresh: false, tiles: [], error: String(e) })),
      ),
    );
    const now = performance.now();
    last.forEach((figures, i) => {
      if (!figures || !figures.fresh) return;
      if (!joinedAt.has(i)) joinedAt.set(i, now);
      const frames = (id) => Math.max(0, ...figures.tiles.filter((t) => t.hallId === id).map((t) => t.frames));
      if (want[i].every((id) => frames(id) >= FRESH_FRAMES)) backAt.set(i, now);
    });
    if (backAt.size < pages.length) await sleep(100);
  }
  return { backAt, joinedAt, last };
}
