// The page's node rule in a cluster (web/static/protocol.js `hn.reconnect.node`,
// docs/protocol.md "Several nodes"): a lost socket moves on to the next node and round
// the list back, a restart notice keeps the node, `home_elsewhere` goes to the node it
// names. Runs protocol.js in a bare context (no browser, no server).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";

function rule() {
  const source = readFileSync(new URL("../../web/static/protocol.js", import.meta.url), "utf8");
  const window = { hn: {} };
  vm.runInNewContext(source, { window, Math });
  return window.hn.reconnect.node;
}
const NODES = ["node-a", "node-b", "node-c"];

test("a lost socket tries the next node, round the list and back", () => {
  const node = rule();
  let at = 0;
  const tried = [];
  for (let i = 0; i < 4; i++) tried.push(NODES[(at = node(NODES, at, 1006, null, ""))]);
  assert.deepEqual(tried, ["node-b", "node-c", "node-a", "node-b"]);
  assert.equal(node(NODES, 1, 1012, null, ""), 1, "a restart notice tries the same node again");
  assert.equal(node(["node-a"], 0, 1006, null, ""), 0, "one node: the same one");
  assert.equal(node([], 0, 1006, null, ""), 0, "no cluster: the page's own server");
});

test("home_elsewhere goes to the node it names, if the page knows it", () => {
  const node = rule();
  const msg = (n) => `meeting 7 is hosted on node ${n}; this node (node-b) cannot open it too`;
  assert.equal(node(NODES, 1, 1013, "home_elsewhere", msg("node-c")), 2);
  assert.equal(node(NODES, 1, 1013, "home_elsewhere", msg("node-x")), -1, "an unknown node: retry slowly here");
  assert.equal(node(NODES, 2, 1013, "home_elsewhere", msg("node-c")), -1, "named itself: retry slowly");
  assert.equal(node(NODES, 0, 1013, "home_elsewhere", "no node named"), -1);
});
