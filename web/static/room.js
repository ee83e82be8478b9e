// The meeting room page on /j/{token}: opens the camera and microphone, makes the page's
// protocol client (protocol.js, kept as hn.room) and shows its state, the tiles
// (tiles.js), the microphone's state, leaving, rejoining, sharing the screen and the
// frozen-tile watchdog. The hall controls (hall.js), the host console (console.js) and
// the kiosk (kiosk.js) listen to the same client.
(function () {
  "use strict";
  var hn = window.hn, $ = hn.$;
  var el = $("room");
  if (!el) return;
  var t = hn.texts("room-texts");
  var query = location.search;
  // The host's page: the main picture and a 5×5 monitoring grid (`?tiles=N` for a smaller
  // grid on a weak PC, 1–25 tiles).
  var tilesParam = /[?&]tiles=(\d+)/.exec(query);
  var h264 = /[?&]codec=h264/i.test(query);
  var room = hn.room = hn.roomClient({
    token: el.dataset.token,
    // A node of a cluster: its id and every node's public URL (protocol.js moves on).
    node: el.dataset.node,
    nodes: el.dataset.nodes ? JSON.parse(el.dataset.nodes) : null,
    videoSlots: 4,
    audioSlots: 4,
    hostVideoSlots: 1 + (tilesParam ? Math.min(25, Math.max(1, Number(tilesParam[1]))) : 25),
    // ?codec=h264 publishes H.264 (one encoding); ?simulcast=0 one VP8 encoding.
    codec: h264 ? "h264" : "vp8",
    simulcast: !h264 && !/[?&]simulcast=0/i.test(query),
    // ?ice=relay forces the TURN relay (a technician checking a hall's TURN path; the tests).
    relay: /[?&]ice=relay/.test(query),
  });
  var view = hn.roomView = hn.tileView(room, t);

  function showState(s, key) {
    el.dataset.state = s;
    $("join-state").textContent = t(key);
  }
  function showNote(key) {
    $("room-note").hidden = !key;
    $("room-note").textContent = key ? t(key) : "";
  }
  function render() {
    view.render();
    el.classList.toggle("has-host", $("stage").childElementCount > 0);
    $("waiting").hidden = room.done || view.count() > 0;
    $("roster-count").textContent = room.halls.size ? room.halls.size + " " + t("room.present") : "";
  }

  room.on("state", function (s, key) {
    showState(s, key);
    if (!room.done) return;
    // Final: the room stops; only a hall that left (or was replaced, removed) may come back.
    $("leave").hidden = true;
    $("rejoin").hidden = s === "ended";
    stopScreen();
    render();
  });
  room.on("change", render);
  // ---- recording: every hall knows it is recorded (docs/protocol.md, "Recording") ----
  room.on("*", function (m) {
    if (m.type === "welcome") $("recording-indicator").hidden = true;
    else if (m.type === "recording") $("recording-indicator").hidden = !m.on;
  });
  room.on("muted", function (muted) {
    $("mic-state").textContent = t(muted ? "room.mic_off" : "room.mic_on");
    $("mic-state").className = muted ? "mic mic-off" : "mic mic-on";
  });

  // ---- camera and microphone ----
  function openMedia() {
    if (!navigator.mediaDevices) return Promise.resolve(null);
    // 720p: three simulcast layers (180p/360p/720p). Tests may set window.HOINGHI_CAMERA first.
    var cam = window.HOINGHI_CAMERA || { width: 1280, height: 720 };
    var want = { audio: true, video: { width: { ideal: cam.width }, height: { ideal: cam.height }, frameRate: { ideal: 25 } } };
    return navigator.mediaDevices.getUserMedia(want).catch(function () {
      return navigator.mediaDevices.getUserMedia({ audio: true }).catch(function () { return null; });
    }).then(function (stream) {
      if (!stream || !stream.getVideoTracks().length) showNote("room.no_media");
      if (stream) $("self-video").srcObject = stream;
      else $("self-tile").hidden = true;
      return stream;
    });
  }

  // ---- sharing the screen (Chia sẻ màn hình): a second video track, same connection ----
  var screen = null; // the shared display stream
  function shareScreen() {
    if (screen) { stopScreen(); return; }
    if (!room.pc || !navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) return;
    navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }).then(function (stream) {
      var track = stream.getVideoTracks()[0];
      if (!track || screen || !room.setScreen(track, stream)) { stream.getTracks().forEach(function (x) { x.stop(); }); return; }
      screen = stream;
      track.onended = stopScreen; // the browser's own "stop sharing"
      $("share").setAttribute("aria-pressed", "true");
    }).catch(function (err) { console.warn("share", err); });
  }
  function stopScreen() {
    if (!screen) return;
    var s = screen;
    screen = null;
    s.getTracks().forEach(function (x) { x.onended = null; x.stop(); });
    $("share").setAttribute("aria-pressed", "false");
    room.setScreen(null);
  }
  $("share").addEventListener("click", shareScreen);

  // ---- frozen tiles ----
  // A publisher may stop sending its top simulcast layer (a busy PC drops it); a tile
  // whose packets stop for ~4 s asks for one layer lower (set_layer), down to the lowest.
  setInterval(function () {
    if (room.state !== "connected") return;
    room.slots.forEach(function (s, id) {
      var receiver = s.kind === "video" && s.hallId !== null ? room.receiverOf(s.mid) : null;
      if (!receiver) return;
      receiver.getStats().then(function (report) {
        var n = 0; // no inbound-rtp yet: nothing has arrived at all
        report.forEach(function (r) { if (r.type === "inbound-rtp") n = r.packetsReceived; });
        if (s.seen && s.seen.n === n && ++s.seen.still >= 2 && (s.cap === undefined || s.cap > 0)) {
          s.cap = s.cap === undefined ? 1 : s.cap - 1;
          room.send({ type: "set_layer", slot: id, layer: s.cap });
          s.seen.still = 0;
        } else if (!s.seen || s.seen.n !== n) s.seen = { n: n, still: 0 };
      });
    });
  }, 2000);

  // ---- leaving: only the button leaves; closing or reloading the page does not ----
  $("leave").addEventListener("click", function () { room.leave(); });
  $("rejoin").addEventListener("click", function () { location.reload(); });

  showState("connecting", "room.connecting");
  // Connect once every script of the page has run: hall.js, console.js, kiosk.js and
  // testhook.js listen from the first message on (the welcome could otherwise arrive
  // while the parser still waits for one of them).
  function start() { openMedia().then(room.connect); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
