// Halls' pages on three nodes (issue 14; run by scripts/browser-test-cluster, which starts
// the nodes, NATS and the database inside a loopback-only namespace): three Chromium pages
// join one meeting through node a, node b and node c and decode each other's video — the
// pages on b and c stay on their node, bridged over NATS to the home room on node a, and
// send their media to their own node's SFU (the cascade, docs/cluster.md "Step 2b": the
// home room places each hall's media on the node its socket came through; relays carry
// the streams between the nodes). Then node a (the meeting's home: its room and the
// host's media) is killed with SIGKILL: every page must move to a living node by itself (it knows
// `public_urls`) and decode fresh video from the others again; the time from the kill is
// printed (the issue asks for 10 s; only a generous bound is asserted), and the
// attendance report shows each hall's interval closed by the lost node and a new one.
// Last, a node that is not the home is killed: its pages move to a living node, the home
// keeps the meeting (no take-over) and every page decodes the moved halls again.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { OUT, PASSWORD, api, launch } from "../helpers.mjs";
import { freshMedia, markConnections, openRoom, sleep, suddenMeeting, waitMedia } from "../media.mjs";

/** {node id: {url, pid}} of the nodes scripts/browser-test-cluster started. */
const NODES = JSON.parse(process.env.CLUSTER_NODES || "{}");
const NAMES = Object.keys(NODES).sort();
const LEASE_SECS = Number(process.env.CLUSTER_LEASE_SECS || 3);
/** A bound that cannot fail on a loaded machine; the figure itself is printed. */
const BACK_WITHIN_MS = 60_000;

let browser;
let meeting;
let pages = [];
let ids = [];
/** For each page, the halls whose video it shows (the host's grid: every other hall; a commune: the host). */
let want = [];

/** One value from the test's database (the nodes' PostgreSQL, over its Unix socket). */
function sql(query) {
  return execFileSync(
    "psql",
    ["-h", process.env.CLUSTER_TEST_PG_SOCKET, "-U", "postgres", "-d", process.env.CLUSTER_TEST_DB, "-Atc", query],
    { encoding: "utf8" },
  ).trim();
}

const LEASE_QUERY = () => `SELECT node_id, epoch FROM meeting_leases WHERE meeting_id = ${meeting.id}`;
const leaseOf = (row) => {
  const [node, epoch] = row.trim().split("|");
  return { node, epoch: Number(epoch) };
};
/** The meeting's home node and lease epoch, as recorded. */
function lease() {
  return leaseOf(sql(LEASE_QUERY()));
}

/** When (performance.now()) the lease is first seen held by another node than `dead`, polled every 100 ms. */
async function takenOver(dead, timeout) {
  const deadline = Date.now() + timeout;
  const args = ["-h", process.env.CLUSTER_TEST_PG_SOCKET, "-U", "postgres", "-d", process.env.CLUSTER_TEST_DB, "-Atc", LEASE_QUERY()];
  while (Date.now() < deadline) {
    const { stdout } = await promisify(execFile)("psql", args, { encoding: "utf8" });
    if (leaseOf(stdout).node !== dead) return performance.now();
    await sleep(100);
  }
  return null;
}

/** Which node process owns each local UDP port (the nodes' SFUs), from `ss`. */
function udpOwners() {
  const owners = new Map();
  const pidToNode = new Map(NAMES.map((n) => [NODES[n].pid, n]));
  for (const line of execFileSync("ss", ["-uanpH"], { encoding: "utf8" }).split("\n")) {
    const port = /127\.0\.0\.1:(\d+)\s/.exec(line)?.[1];
    const pid = /pid=(\d+)/.exec(line)?.[1];
    if (port && pid && pidToNode.has(Number(pid))) owners.set(Number(port), pidToNode.get(Number(pid)));
  }
  return owners;
}

/** Per page: the node its socket is on, and the node whose SFU its media goes to. */
async function where() {
  const owners = udpOwners();
  const byUrl = new Map(NAMES.map((n) => [new URL(NODES[n].url).host, n]));
  return Promise.all(
    pages.map(async (page) => {
      const { socket, port } = await page.evaluate(async () => {
        const report = await window.hoinghi.pc.getStats();
        let pair = null;
        report.forEach((r) => {
          if (r.type === "transport" && r.selectedCandidatePairId) pair = report.get(r.selectedCandidatePairId);
        });
        const remote = pair && report.get(pair.remoteCandidateId);
        return { socket: new URL(window.hoinghi.ws.url).host, port: remote ? remote.port : null };
      });
      return { socket: byUrl.get(socket), media: owners.get(port) ?? `udp ${port}` };
    }),
  );
}

before(async () => {
  assert.ok(NAMES.length >= 3, "CLUSTER_NODES names three nodes (scripts/browser-test-cluster sets it)");
  browser = await launch();
});
after(async () => {
  await Promise.all(pages.map((p) => p.context().close().catch(() => {})));
  await browser?.close();
});

test("pages that joined through three nodes decode each other's video", async () => {
  const base = NODES[NAMES[0]].url;
  meeting = await suddenMeeting("Họp đột xuất: ba máy chủ", base);
  // The host through node a first (node a becomes the home: it opens the room), then a
  // commune through node b and another through node c.
  for (const [i, h] of meeting.halls.slice(0, 3).entries()) {
    const join_url = h.join_url.replace(/^https?:\/\/[^/]+/, NODES[NAMES[i]].url);
    pages.push(await openRoom(browser, { ...h, join_url }));
  }
  ids = await Promise.all(pages.map((p) => p.evaluate(() => window.hoinghi.hallId())));
  want = ids.map((_, i) => (i === 0 ? ids.slice(1) : [ids[0]]));
  for (const [i, page] of pages.entries()) await waitMedia(page, { video: want[i] });

  assert.deepEqual(lease(), { node: NAMES[0], epoch: 1 }, "node a is the meeting's home");
  const at = await where();
  console.log(`pages (host, commune, commune): ${JSON.stringify(at)}`);
  assert.deepEqual(at.map((w) => w.socket), NAMES.slice(0, 3), "each page's socket stays on the node it joined through");
  assert.deepEqual(at.map((w) => w.media), NAMES.slice(0, 3), "every page sends its media to its own node's SFU");
  await pages[0].screenshot({ path: join(OUT, "cluster-before.png") });
});

test("kill -9 of the node carrying the media: every page decodes the others again through a living node", async () => {
  assert.ok(pages.length === 3, "the pages of the first test are in");
  const dead = lease().node;
  await markConnections(pages);
  const killed = performance.now();
  process.kill(NODES[dead].pid, "SIGKILL");
  const [took, { backAt, joinedAt, last }] = await Promise.all([
    takenOver(dead, BACK_WITHIN_MS),
    freshMedia(pages, want, BACK_WITHIN_MS),
  ]);
  const since = (m) => pages.map((_, i) => (m.has(i) ? Math.round(m.get(i) - killed) : null));
  const back = since(backAt);
  const home = lease();
  console.log(
    `lease ${LEASE_SECS} s: after kill -9 of ${dead}: lease taken over after ${took === null ? null : Math.round(took - killed)} ms; (ms, per page): welcomed again ${JSON.stringify(since(joinedAt))}, ` +
      `fresh video decoded ${JSON.stringify(back)}; every page back after ${Math.max(...back.map((b) => b ?? Infinity))} ms; ` +
      `new home ${home.node} (epoch ${home.epoch}); last figures ${JSON.stringify(last)}`,
  );
  assert.ok(back.every((b) => b !== null), `every page decodes the others again within ${BACK_WITHIN_MS} ms: ${JSON.stringify(last)}`);
  assert.notEqual(home.node, dead, "another node took the meeting over");
  assert.equal(home.epoch, 2, "one take-over");
  const at = await where();
  console.log(`pages now: ${JSON.stringify(at)}`);
  for (const w of at) {
    assert.notEqual(w.socket, dead, `no page is on the dead node: ${JSON.stringify(at)}`);
    assert.equal(w.media, w.socket, `media goes to the SFU of the page's own (living) node: ${JSON.stringify(at)}`);
  }
  await pages[0].screenshot({ path: join(OUT, "cluster-after.png") });

  // What the secretariat sees, asked of the new home: per hall one interval closed by the
  // lost node (or as a lost network) and one open.
  const base = NODES[home.node].url;
  const { token } = await api("/auth/login", { method: "POST", body: { username: "vp.tinh", password: PASSWORD }, base });
  let rows = [];
  for (let i = 0; i < 40; i++) {
    ({ rows } = await api(`/meetings/${meeting.id}/attendance`, { token, base }));
    if (ids.every((id) => rows.find((r) => r.hall_id === id)?.timeline.length === 2)) break;
    await sleep(500);
  }
  for (const id of ids) {
    const row = rows.find((r) => r.hall_id === id);
    const timeline = row.timeline.map((t) => ({ closed: t.left_at !== null, lost: ["node_lost", "network_lost"].includes(t.end_reason) }));
    assert.deepEqual(
      timeline,
      [{ closed: true, lost: true }, { closed: false, lost: false }],
      `hall ${row.hall_name}: ${JSON.stringify(row.timeline)}`,
    );
  }
  const reasons = ids.map((id) => rows.find((r) => r.hall_id === id).timeline[0].end_reason);
  console.log(`first intervals ended: ${JSON.stringify(reasons)}`);
});

/** The meeting's attendance rows (each hall's timeline of intervals), asked of `node` as its secretariat. */
async function timelines(node) {
  const base = NODES[node].url;
  const { token } = await api("/auth/login", { method: "POST", body: { username: "vp.tinh", password: PASSWORD }, base });
  return (await api(`/meetings/${meeting.id}/attendance`, { token, base })).rows;
}
const last = (rows, id) => rows.find((r) => r.hall_id === id).timeline.at(-1);

/** Whether a page decodes each of `ids` now: every one's video frames grow over one second. */
async function decoding(page, ids) {
  const frames = () =>
    page
      .evaluate(async () => (await window.hoinghi.stats()).filter((t) => t.kind === "video").map((t) => [t.hallId, t.framesDecoded ?? 0]))
      .catch(() => []);
  const of = (tiles, id) => Math.max(0, ...tiles.filter(([h]) => h === id).map(([, f]) => f));
  const before = await frames();
  await sleep(1000);
  const after = await frames();
  return ids.every((id) => of(after, id) >= of(before, id) + 3);
}

test("kill -9 of a node that is not the home: its pages move, the home keeps the meeting, everyone decodes them again", async () => {
  assert.ok(pages.length === 3, "the pages of the earlier tests are in");
  const home = lease();
  const at = await where();
  const others = NAMES.filter((n) => n !== home.node && at.some((w) => w.socket === n));
  assert.ok(others.length >= 1, `a living node other than the home carries a page: ${JSON.stringify(at)}`);
  const dead = others[0];
  const moved = at.flatMap((w, i) => (w.socket === dead ? [i] : []));
  const stayed = at.flatMap((w, i) => (w.socket === dead ? [] : [i]));
  const before = await timelines(home.node);
  const reconnectsBefore = ids.map((id) => last(before, id).reconnects);
  await markConnections(pages);
  const killed = performance.now();
  process.kill(NODES[dead].pid, "SIGKILL");

  // The moved pages first: a new connection decoding what they show.
  const { backAt } = await freshMedia(moved.map((i) => pages[i]), moved.map((i) => want[i]), BACK_WITHIN_MS);
  const movedBack = moved.map((_, k) => (backAt.has(k) ? Math.round(backAt.get(k) - killed) : null));
  assert.ok(movedBack.every((b) => b !== null), `the pages on ${dead} decode again through a living node: ${JSON.stringify(movedBack)}`);
  // Then the others: the moved halls' video on their screens again.
  const stayedBack = [];
  for (const i of stayed) {
    const deadline = Date.now() + BACK_WITHIN_MS;
    while (Date.now() < deadline && !(await decoding(pages[i], want[i]))) await sleep(200);
    assert.ok(await decoding(pages[i], want[i]), `page ${i} decodes halls ${JSON.stringify(want[i])} again`);
    stayedBack.push(Math.round(performance.now() - killed));
  }
  const now = await where();
  console.log(
    `after kill -9 of ${dead} (not the home, ${home.node}): moved pages ${JSON.stringify(moved)} decode again after ${JSON.stringify(movedBack)} ms, ` +
      `the others see them after ${JSON.stringify(stayedBack)} ms; pages now ${JSON.stringify(now)}`,
  );
  assert.deepEqual(lease(), home, "the home node keeps the meeting: no take-over");
  for (const w of now) assert.notEqual(w.socket, dead, `no page is on the dead node: ${JSON.stringify(now)}`);

  // The report: the home room saw the moved halls come back within the grace period, as
  // after a network blip: their interval stays open and counts one more reconnect; nobody
  // gets a new interval (docs/cluster.md, "A node that is not the home dies").
  let rows = [];
  for (let k = 0; k < 40; k++) {
    rows = await timelines(home.node);
    if (moved.every((i) => last(rows, ids[i]).reconnects === reconnectsBefore[i] + 1)) break;
    await sleep(500);
  }
  for (const [i, id] of ids.entries()) {
    const row = rows.find((r) => r.hall_id === id);
    assert.equal(row.timeline.length, 2, `hall ${row.hall_name}: no new interval: ${JSON.stringify(row.timeline)}`);
    assert.equal(last(rows, id).left_at, null, `hall ${row.hall_name} is present: ${JSON.stringify(row.timeline)}`);
    const more = moved.includes(i) ? 1 : 0;
    assert.equal(last(rows, id).reconnects, reconnectsBefore[i] + more, `hall ${row.hall_name}: ${JSON.stringify(row.timeline)}`);
  }
});
