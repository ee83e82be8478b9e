// A hall in Debian's headless Chromium for sfu/tests/chromium_feedback.rs: publishes a
// camera (a moving canvas) and receives one video slot over one connection, as the room page does.
// Talks to the test over stdin/stdout, one line each way, SDP newlines escaped as "\n":
//   out: OFFER <sdp>      in: ANSWER <sdp>      out: CONNECTED
//   in: STATS             out: STATS in_packets=… in_lost=… in_nacks=… … (its video counters)
// then keeps the call up until stdin closes. playwright-core comes from tests/browser
// (`npm ci` there).
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const require = createRequire(fileURLToPath(new URL("../../../tests/browser/package.json", import.meta.url)));
const { chromium } = require("playwright-core");

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    // Without a camera permission Chrome hides host addresses behind mDNS names, which
    // the SFU (mDNS disabled) cannot resolve.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
  ],
});
const page = await browser.newPage();
const offer = await page.evaluate(async () => {
  const pc = new RTCPeerConnection();
  window.pc = pc;
  // about:blank is no secure context (no getUserMedia): a moving canvas is the camera.
  const canvas = Object.assign(document.createElement("canvas"), { width: 640, height: 480 });
  document.body.append(canvas);
  const g = canvas.getContext("2d");
  let n = 0;
  setInterval(() => {
    n += 1;
    g.fillStyle = `hsl(${(n * 7) % 360} 70% 50%)`;
    g.fillRect(0, 0, 640, 480);
    g.fillStyle = "#fff";
    g.font = "48px sans-serif";
    g.fillText(String(n), 40 + (n % 400), 240);
  }, 33);
  const stream = canvas.captureStream(30);
  pc.addTransceiver(stream.getVideoTracks()[0], { direction: "sendonly" });
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.ontrack = (e) => {
    const v = document.createElement("video");
    v.srcObject = new MediaStream([e.track]);
    v.muted = true;
    document.body.append(v);
    v.play();
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === "complete") return done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && done();
  });
  return pc.localDescription.sdp;
});
console.error("hall.mjs: offer made");
console.log("OFFER " + offer.replaceAll("\r\n", "\\n"));

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line === "STATS") {
    // What the browser counted of its camera sent and its slot received, "key=value"s.
    const figures = await page.evaluate(async () => {
      const out = [];
      (await window.pc.getStats()).forEach((s) => {
        if (s.kind !== "video") return;
        if (s.type === "inbound-rtp") {
          out.push(`in_packets=${s.packetsReceived}`, `in_lost=${s.packetsLost}`,
            `in_nacks=${s.nackCount}`, `in_frames=${s.framesDecoded}`);
        } else if (s.type === "outbound-rtp") {
          out.push(`out_packets=${s.packetsSent}`, `out_nacks=${s.nackCount}`,
            `out_resent=${s.retransmittedPacketsSent ?? 0}`);
        }
      });
      return out.join(" ");
    });
    console.log("STATS " + figures);
    continue;
  }
  if (!line.startsWith("ANSWER ")) continue;
  const sdp = line.slice(7).replaceAll("\\n", "\r\n");
  console.error("hall.mjs: answer received");
  await page.evaluate(async (sdp) => {
    await window.pc.setRemoteDescription({ type: "answer", sdp });
    await new Promise((done) => {
      const check = () => window.pc.connectionState === "connected" && done();
      window.pc.onconnectionstatechange = check;
      check();
    });
  }, sdp);
  console.log("CONNECTED");
}
await browser.close();
