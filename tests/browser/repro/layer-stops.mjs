// Reproduction (not part of npm test) of an SFU issue: the host page stops sending its top
// simulcast layer (rid f) after it had flowed; the commune, whose slot shows the host at the
// high layer, stops receiving video (no fallback to rid h). WATCHDOG=1 turns the page's
// frozen-tile watchdog on, which recovers by set_layer. Run against a demo server inside a
// loopback-only netns: HOINGHI_URL=… node tests/browser/repro/layer-stops.mjs
import { PASSWORD, api, launch } from "../helpers.mjs";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const { token, account } = await api("/auth/login", { method: "POST", body: { username: "vp.tinh", password: PASSWORD } });
const { halls } = await api("/halls", { token });
const host = halls.find((h) => h.unit_id === account.unit_id);
const { meetings } = await api("/meetings", { token, method: "POST", body: { title: "repro", kind: "sudden", host_hall_id: host.id, starts_at: "now", duration_minutes: 30, scope: { root_unit_id: account.unit_id, levels: ["province", "commune"] }, override_reason: "repro" } });
const { invitations } = await api(`/meetings/${meetings[0].id}/invitations`, { token });
const browser = await launch();
const open = async (inv) => { const c = await browser.newContext(); const p = await c.newPage(); await p.goto(inv.join_url); await p.waitForFunction(() => window.hoinghi?.state === "connected", null, { timeout: 30000 }); return p; };
const hostPage = await open(invitations.find((i) => i.level === "province"));
const commune = await open(invitations.find((i) => i.level === "commune"));
const show = async (label) => {
  const s = (await commune.evaluate(() => window.hoinghi.stats())).filter((t) => t.kind === "video");
  const sent = await hostPage.evaluate(() => window.hoinghi.sendStats());
  console.log(label, JSON.stringify(s.map((t) => [t.hallId, t.framesDecoded, t.packetsReceived, t.frameWidth, t.pliCount])), JSON.stringify(sent.filter((x) => x.kind === "video").map((x) => [x.rid, x.packetsSent, x.frameWidth])));
};
const watchdog = process.env.WATCHDOG === "1";
await commune.evaluate((on) => { window.hoinghi.watchdog = on; }, watchdog);
for (let i = 0; i < 3; i++) { await sleep(2000); await show("all layers"); }
const mode = process.env.MODE || "f-off";
await hostPage.evaluate((mode) => {
  const sender = window.hoinghi._pc.getSenders().find((s) => s.track?.kind === "video");
  const p = sender.getParameters();
  p.encodings.forEach((e) => { e.active = mode === "f-off" ? e.rid !== "f" : e.rid === "q"; });
  return sender.setParameters(p);
}, mode);
for (let i = 0; i < 6; i++) { await sleep(2000); await show(mode); }
console.log("watchdog", watchdog, "capped", JSON.stringify(await commune.evaluate(() => window.hoinghi.capped)));
await browser.close();
