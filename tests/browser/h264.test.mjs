// H.264 through the SFU with real Chromium pages: the host hall opens its room with
// ?codec=h264 and publishes H.264 (one encoding, no simulcast); a commune's page, whose
// receive slots offer VP8 and H.264, decodes it. Judged by the pages' own getStats: the
// codec of the host's outbound and of the commune's inbound video, and frames decoded.
// Needs the server's media_h264 setting (scripts/browser-test sets HOINGHI_MEDIA_H264).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { OUT, launch } from "./helpers.mjs";
import { openRoom, sleep, suddenMeeting, waitMedia } from "./media.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** The page's video RTP streams of `type` (inbound-rtp, outbound-rtp) with their codec. */
const videoStreams = (page, type) =>
  page.evaluate(
    (type) =>
      window.hoinghi.pc.getStats().then((report) => {
        const out = [];
        report.forEach((r) => {
          if (r.type !== type || r.kind !== "video") return;
          const codec = r.codecId ? report.get(r.codecId) : null;
          out.push({
            mid: r.mid,
            rid: r.rid ?? null,
            mimeType: codec?.mimeType ?? null,
            fmtp: codec?.sdpFmtpLine ?? null,
            frames: type === "inbound-rtp" ? r.framesDecoded ?? 0 : r.framesEncoded ?? 0,
            keyframes: type === "inbound-rtp" ? r.keyFramesDecoded : r.keyFramesEncoded,
            size: r.frameWidth && `${r.frameWidth}x${r.frameHeight}`,
          });
        });
        return out;
      }),
    type,
  );

/** Waits (bounded) until `page` has an inbound video stream of `mime` decoding frames. */
async function decoding(page, mime, timeout = 40_000) {
  const deadline = Date.now() + timeout;
  let first = null;
  let streams = [];
  while (Date.now() < deadline) {
    streams = await videoStreams(page, "inbound-rtp");
    const s = streams.find((x) => x.mimeType === mime && x.frames > 0);
    if (s) {
      first ??= s;
      if (s.mid === first.mid && s.frames >= first.frames + 10) return { first, now: s };
    }
    await sleep(500);
  }
  assert.fail(`no ${mime} video decoding: ${JSON.stringify(streams)}`);
}

test("a hall publishing H.264 is decoded as H.264 by another hall", async () => {
  const meeting = await suddenMeeting("Họp đột xuất: thử H.264");
  const [hostHall, communeHall] = meeting.halls;
  const host = await openRoom(browser, hostHall, "?codec=h264");
  const commune = await openRoom(browser, communeHall);
  try {
    const hostId = await host.evaluate(() => window.hoinghi.hallId());
    const communeId = await commune.evaluate(() => window.hoinghi.hallId());
    assert.equal(await host.evaluate(() => window.hoinghi.simulcast), false, "no simulcast with H.264");

    // The commune's slot shows the host (policy), and what it decodes is H.264.
    const seen = await decoding(commune, "video/H264");
    console.log("commune decodes", JSON.stringify(seen));
    assert.ok(seen.now.frames > seen.first.frames, "frames decoded rise");
    console.log("commune tiles", JSON.stringify(await waitMedia(commune, { video: [hostId] })));

    // The host sends one H.264 encoding, and still decodes the commune's VP8.
    const sent = await videoStreams(host, "outbound-rtp");
    console.log("host sends", JSON.stringify(sent));
    assert.equal(sent.length, 1, "one encoding");
    assert.equal(sent[0].mimeType, "video/H264");
    assert.ok(sent[0].frames > 0, "frames encoded");
    console.log("host receives", JSON.stringify(await waitMedia(host, { video: [communeId] })));
    const received = await videoStreams(host, "inbound-rtp");
    assert.ok(
      received.some((s) => s.mimeType === "video/VP8" && s.frames > 0),
      `the commune's VP8 decoded by the host: ${JSON.stringify(received)}`,
    );
    await commune.screenshot({ path: `${OUT}h264-commune.png` });
  } finally {
    await Promise.all([host, commune].map((p) => p.context().close()));
  }
});
