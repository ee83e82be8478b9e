// The pages' reconnect schedule (web/static/protocol.js, docs/protocol.md "Reconnection"):
// fast first, capped around 5 s, jittered, and at once again after a restart notice. Runs protocol.js in a bare context (no browser,
// no server): the schedule is a pure function of the attempt number and the random draw.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";

/** protocol.js's `hn.reconnect` ({delay, next}) with Math.random fixed at `draw`. */
function schedule(draw) {
  const source = readFileSync(new URL("../../web/static/protocol.js", import.meta.url), "utf8");
  const math = Object.create(Math);
  math.random = () => draw;
  const window = { hn: {} };
  vm.runInNewContext(source, { window, Math: math });
  return window.hn.reconnect;
}
/** The delays before attempts 1–12 after one drop, the server away all along. */
function delays(draw) {
  const { delay, next } = schedule(draw);
  const out = [];
  for (let n = next(0, 1006); out.length < 12; n = next(n, 1006)) out.push(delay(n));
  return out;
}

test("a page retries at once first, then backs off to about 5 s at most", () => {
  for (const draw of [0, 0.5, 0.999]) {
    const d = delays(draw);
    console.log(`random ${draw}: ${d.map(Math.round).join(", ")} ms`);
    assert.ok(d[0] <= 250, `the first retry follows at once: ${d[0]} ms`);
    assert.ok(d.every((x) => x <= 5000), "never more than 5 s apart");
    assert.ok(d.slice(5).every((x) => x >= 2500), "and not hammering the server either");
    for (let i = 1; i < d.length; i++) assert.ok(d[i] >= d[i - 1], "never shorter than the attempt before");
    // A server back 10 s after it went away is tried again within 5 s of its return.
    const tried = d.reduce((acc, x) => [...acc, (acc.at(-1) ?? 0) + x], []);
    assert.ok(tried.find((t) => t >= 10_000) < 15_000, JSON.stringify(tried));
  }
  // Jitter: 200 halls dropped at once do not all come back in the same instant.
  assert.notEqual(delays(0)[0], delays(0.999)[0]);
});

test("a restart notice (close code 1012) retries at once, however long the page has waited", () => {
  const { delay, next } = schedule(0.999);
  let n = 0;
  for (let i = 0; i < 8; i++) n = next(n, 1006); // eight failed attempts: ~5 s apart now
  assert.ok(delay(n) > 4000, `after eight failures: ${delay(n)} ms`);
  assert.ok(delay(next(n, 1012)) <= 250, `after 1012: ${delay(next(n, 1012))} ms`);
  assert.ok(delay(next(n, 1001)) > 4000, "any other close keeps backing off");
});
