// A graceful restart as halls see it (issue 12): three hall pages in a meeting (the host
// and two communes) decode each other's video; the server gets SIGTERM and is started again on the same port and data;
// from the moment it answers HTTP, every page must decode fresh video from the others
// within 5 s, and the attendance timeline shows each hall's first interval ended by the
// restart and a new one open. This test runs its own demo server (the one
// scripts/browser-test started serves the other tests and is never stopped), inside the
// same loopback-only namespace, with the same HOINGHI_* settings.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { OUT, api, launch, login, PASSWORD } from "./helpers.mjs";
import { freshMedia, markConnections, openRoom, sleep, suddenMeeting, waitMedia } from "./media.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = process.env.HOINGHI_BIN || join(process.env.CARGO_TARGET_DIR || join(ROOT, "target"), "debug/hoinghi");
/** The promise: media back within this long of the server answering again. */
const WITHIN_MS = 5000;

let browser;
const dataDir = mkdtempSync(join(tmpdir(), "hoinghi-restart-"));
let server = null;
let log = "";

/** A free loopback port (the server is started on it twice). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts `hoinghi demo` on `port` with the test's data directory. */
function start(port) {
  // HOINGHI_URL is the tests' own variable, not a setting (the server refuses unknown keys).
  const { HOINGHI_URL: _, ...env } = process.env;
  const child = spawn(BIN, ["demo", "--addr", `127.0.0.1:${port}`, "--data-dir", dataDir], {
    env: { ...env, RUST_LOG: process.env.RUST_LOG || "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (d) => {
    log += d.toString();
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return child;
}

/** Polls `url` until it answers HTTP at all (any status); returns when it first did. */
async function firstAnswer(url, child, timeout) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return performance.now();
    } catch {
      if (child.exitCode !== null) throw new Error(`the server exited:\n${log.slice(-3000)}`);
      await sleep(20);
    }
  }
  throw new Error(`${url} did not answer within ${timeout} ms:\n${log.slice(-3000)}`);
}

before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    await server.exited;
  }
  writeFileSync(join(OUT, "restart-server.log"), log);
  rmSync(dataDir, { recursive: true, force: true });
});

test("after SIGTERM and a restart, every page decodes the others again within 5 s of the server answering", async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  server = start(port);
  // The first start loads the whole country's demo data: give it time.
  await firstAnswer(`${base}/healthz`, server, 240_000);
  const meeting = await suddenMeeting("Họp đột xuất: máy chủ khởi động lại", base);
  const halls = meeting.halls.slice(0, 3);
  const pages = [];
  try {
    for (const h of halls) pages.push(await openRoom(browser, h));
    const ids = await Promise.all(pages.map((p) => p.evaluate(() => window.hoinghi.hallId())));
    // What each page shows (signaling/src/policy.rs): the host's grid every other hall,
    // a commune the host.
    const want = ids.map((me, i) => (i === 0 ? ids.slice(1) : [ids[0]]));
    // Before: each page decodes them.
    for (const [i, page] of pages.entries()) await waitMedia(page, { video: want[i] });

    // The graceful stop: pages are told (1012), intervals end as server_restart.
    await markConnections(pages);
    const stopped = performance.now();
    server.kill("SIGTERM");
    const exit = await server.exited;
    console.log(`server stopped in ${Math.round(performance.now() - stopped)} ms (${JSON.stringify(exit)})`);
    assert.equal(exit.code, 0, `a graceful stop exits 0:\n${log.slice(-3000)}`);
    // Each page says it is reconnecting (its socket's close may reach it a moment later).
    await Promise.all(
      pages.map((p) => p.waitForFunction(() => window.hoinghi.state === "reconnecting", null, { timeout: 5000, polling: 50 }).catch(() => {})),
    );
    const states = await Promise.all(pages.map((p) => p.evaluate(() => window.hoinghi.state)));
    assert.ok(states.every((s) => s === "reconnecting"), `the pages say they are reconnecting: ${states}`);

    // Started again on the same port and data.
    server = start(port);
    const answered = await firstAnswer(`${base}/healthz`, server, 60_000);
    console.log(`server answered again ${Math.round(answered - stopped)} ms after SIGTERM`);
    const { backAt, joinedAt, last } = await freshMedia(pages, want, 30_000);
    const after = (m) => pages.map((_, i) => (m.has(i) ? Math.round(m.get(i) - answered) : null));
    const delays = after(backAt);
    console.log(`after the server answered (ms, per page): joined again ${JSON.stringify(after(joinedAt))}, media back ${JSON.stringify(delays)}; last figures ${JSON.stringify(last)}`);
    assert.ok(delays.every((d) => d !== null), `every page decodes the others again: ${JSON.stringify(last)}`);
    assert.ok(Math.max(...delays) < WITHIN_MS, `media back within ${WITHIN_MS} ms of the server answering: ${JSON.stringify(delays)}`);

    // What the secretariat sees: each hall's first interval ended by the restart, a new
    // one open (the report's JSON, and the meeting page's per-hall timeline).
    const { token } = await api("/auth/login", { method: "POST", body: { username: "vp.tinh", password: PASSWORD }, base });
    let rows = [];
    for (let i = 0; i < 20; i++) {
      ({ rows } = await api(`/meetings/${meeting.id}/attendance`, { token, base }));
      if (ids.every((id) => rows.find((r) => r.hall_id === id)?.timeline.length === 2)) break;
      await sleep(500);
    }
    for (const id of ids) {
      const row = rows.find((r) => r.hall_id === id);
      const timeline = row.timeline.map((t) => ({ end: t.end_reason, open: t.left_at === null }));
      assert.deepEqual(timeline, [{ end: "server_restart", open: false }, { end: null, open: true }], `hall ${row.hall_name}: ${JSON.stringify(row.timeline)}`);
    }
    const staff = await browser.newContext({ locale: "vi-VN" });
    try {
      const page = await staff.newPage();
      await login(page, "vp.tinh", PASSWORD, base);
      await page.goto(`${base}/meetings/${meeting.id}`);
      const shown = await page.$$eval("#attendance-timeline tbody", (groups) =>
        groups.map((g) => ({
          hall: g.querySelector("th").childNodes[0].textContent.trim(),
          reasons: Array.from(g.querySelectorAll("tr"), (tr) => Array.from(tr.querySelectorAll("td"), (td) => td.textContent.trim())),
        })),
      );
      await page.screenshot({ path: join(OUT, "restart-timeline.png"), fullPage: true });
      for (const h of halls) {
        const group = shown.find((g) => g.hall === h.hall_name);
        assert.ok(group, `${h.hall_name} in the timeline: ${JSON.stringify(shown)}`);
        assert.equal(group.reasons.length, 2, `two intervals for ${h.hall_name}: ${JSON.stringify(group)}`);
        assert.ok(group.reasons[0].includes("Máy chủ khởi động lại"), JSON.stringify(group));
        assert.ok(group.reasons[1].includes("Đang kết nối"), JSON.stringify(group));
      }
    } finally {
      await staff.close();
    }
  } finally {
    await Promise.all(pages.map((p) => p.context().close()));
  }
});
