// Browser test of the TURN path for halls whose UDP is blocked: scripts/browser-test runs
// coturn on 127.0.0.1:3478 (TCP announced only) and gives the server its shared secret;
// two halls open their rooms with `?ice=relay`, so Chromium may use nothing but a TURN
// relay, and media must flow through coturn over TCP. Judged by the pages' getStats.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { OUT, api, launch } from "./helpers.mjs";
import { openRoom, suddenMeeting, waitMedia, waitState } from "./media.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const relayOnly = (hall) => (hall.join_url.includes("?") ? "&" : "?") + "ice=relay";
const print = (label, figures) => console.log(label, JSON.stringify(figures));

/** The page's RTCConfiguration (from `welcome`) and its selected candidate pair. */
function route(page) {
  return page.evaluate(async () => {
    const pc = window.hoinghi.pc;
    const config = pc.getConfiguration();
    const report = await pc.getStats();
    let pair = null;
    report.forEach((r) => {
      if (r.type === "transport" && r.selectedCandidatePairId) pair = report.get(r.selectedCandidatePairId);
    });
    const local = pair && report.get(pair.localCandidateId);
    const remote = pair && report.get(pair.remoteCandidateId);
    return {
      policy: config.iceTransportPolicy,
      servers: config.iceServers.map((s) => ({ urls: s.urls, username: s.username, hasCredential: !!s.credential })),
      pair: pair && { state: pair.state, bytesSent: pair.bytesSent, bytesReceived: pair.bytesReceived },
      local: local && { type: local.candidateType, protocol: local.protocol, relayProtocol: local.relayProtocol, url: local.url, address: local.address },
      remote: remote && { type: remote.candidateType, protocol: remote.protocol, address: remote.address, port: remote.port },
    };
  });
}

/** Asserts that the page uses only the TURN relay, reached over TCP, with valid credentials. */
async function assertRelayedOverTcp(page, hallId, label) {
  // The selected pair settles shortly after "connected": wait until it carries media.
  let r = await route(page);
  for (let i = 0; i < 20 && !(r.pair && r.pair.bytesReceived > 0); i++) {
    await new Promise((ok) => setTimeout(ok, 250));
    r = await route(page);
  }
  print(`${label} route`, r);
  assert.equal(r.policy, "relay", "the page allows only relayed candidates");
  const turn = r.servers.find((s) => [].concat(s.urls).some((u) => u.startsWith("turn:")));
  assert.ok(turn, `welcome gave a TURN server: ${JSON.stringify(r.servers)}`);
  assert.ok(turn.hasCredential, "with a credential");
  const [expiry, user] = (turn.username ?? "").split(":");
  assert.equal(Number(user), hallId, "the TURN user name names the hall");
  const hours = (Number(expiry) - Date.now() / 1000) / 3600;
  assert.ok(hours > 11 && hours <= 12, `credentials valid for 12 h from now (${hours.toFixed(2)} h)`);
  assert.equal(r.pair?.state, "succeeded", "a candidate pair is selected");
  assert.equal(r.local.type, "relay", "the local candidate is the TURN relay");
  assert.equal(r.local.relayProtocol, "tcp", "reached over TCP (TURN/TCP: no UDP from the hall)");
  assert.ok(r.pair.bytesReceived > 0 && r.pair.bytesSent > 0, "media crosses the relayed pair");
  return { expiry: Number(expiry), route: r };
}

/** A host control through the secretariat's HTTP route. */
const live = (meeting, body) => api(`/meetings/${meeting.id}/live`, { token: meeting.token, method: "POST", body });

// Two halls that are not the host (a commune and a district), so what they receive is
// each other: the commune holds the floor, the district is spotlighted and unmuted.
test("two halls whose UDP is blocked meet through the TURN server over TCP", async () => {
  const meeting = await suddenMeeting("Họp đột xuất: thử điểm cầu qua máy chủ TURN");
  const [, communeHall, districtHall] = meeting.halls;
  const [commune, district] = await Promise.all(
    [communeHall, districtHall].map((hall) => openRoom(browser, hall, relayOnly(hall))),
  );
  try {
    const [communeId, districtId] = await Promise.all(
      [commune, district].map((p) => p.evaluate(() => window.hoinghi.hallId())),
    );
    const before = await assertRelayedOverTcp(commune, communeId, "commune");
    await assertRelayedOverTcp(district, districtId, "district");
    await live(meeting, { type: "give_floor", hall_id: communeId });
    await live(meeting, { type: "spotlight", hall_id: districtId });
    await live(meeting, { type: "mute", hall_id: districtId, muted: false });
    print("district receives through TURN", await waitMedia(district, { video: [communeId], audio: [communeId] }));
    print("commune receives through TURN", await waitMedia(commune, { video: [districtId], audio: [districtId] }));
    await commune.screenshot({ path: `${OUT}turn-commune.png` });

    // A kiosk that reconnects gets fresh credentials in its new welcome and relays again.
    const oldPc = await commune.evaluateHandle(() => window.hoinghi.pc);
    await commune.evaluate(() => window.hoinghi.ws.close());
    await waitState(commune, "reconnecting", 5_000);
    await waitState(commune, "connected", 30_000);
    assert.ok(await commune.evaluate((old) => window.hoinghi.pc !== old, oldPc), "a new peer connection");
    const after = await assertRelayedOverTcp(commune, communeId, "commune after reconnecting");
    assert.ok(after.expiry >= before.expiry, "credentials from the new welcome");
    print("after reconnecting, commune receives through TURN", await waitMedia(commune, { video: [districtId], audio: [districtId] }));
  } finally {
    await Promise.all([commune, district].map((p) => p.context().close()));
  }
});
