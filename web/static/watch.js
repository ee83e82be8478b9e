// The viewer page (/watch/{token}): pulls the meeting's main picture and the halls' audio
// over WHEP (POST /whep/{token}, docs/protocol.md "WHIP and WHEP"), waits while the meeting
// is not live, reconnects when the path breaks, ends its session when the page closes.
(function () {
  "use strict";
  var root = document.getElementById("watch");
  if (!root) return;
  var token = root.dataset.token;
  var texts = JSON.parse(document.getElementById("watch-texts").textContent);
  var stateEl = document.getElementById("watch-state");
  var video = document.getElementById("watch-video");
  var sound = document.getElementById("watch-sound");
  var pc = null;
  var session = null; // the Location of the WHEP session, for DELETE
  var state = "connecting";
  var retryTimer = null;
  var lostTimer = null;
  var failures = 0;

  function show(key) {
    state = key;
    stateEl.textContent = texts["watch." + key] || key;
    root.dataset.state = key;
  }

  function endSession(keepalive) {
    if (session) {
      fetch(session, { method: "DELETE", keepalive: !!keepalive }).catch(function () {});
      session = null;
    }
    if (pc) {
      pc.onconnectionstatechange = null;
      pc.ontrack = null;
      pc.close();
      pc = null;
    }
  }

  function retry(key, seconds) {
    endSession(false);
    show(key);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, seconds * 1000);
  }

  // Waits for the browser's own candidates (the server takes no trickled ones), at most 2 s.
  function gathered(conn) {
    if (conn.iceGatheringState === "complete") return Promise.resolve();
    return new Promise(function (resolve) {
      var done = function () { resolve(); };
      conn.addEventListener("icegatheringstatechange", function () {
        if (conn.iceGatheringState === "complete") done();
      });
      setTimeout(done, 2000);
    });
  }

  function connect() {
    clearTimeout(retryTimer);
    endSession(false);
    var conn = new RTCPeerConnection();
    pc = conn;
    conn.addTransceiver("video", { direction: "recvonly" });
    conn.addTransceiver("audio", { direction: "recvonly" });
    // The stream is attached at its first track: an empty one would hold the page's load.
    var stream = new MediaStream();
    conn.ontrack = function (ev) {
      stream.addTrack(ev.track);
      if (video.srcObject !== stream) video.srcObject = stream;
    };
    conn.onconnectionstatechange = function () {
      if (pc !== conn) return;
      var s = conn.connectionState;
      if (s === "connected") {
        failures = 0;
        clearTimeout(lostTimer);
        show("watching");
      } else if (s === "failed" || s === "closed") {
        lost();
      } else if (s === "disconnected") {
        // A short gap may heal by itself; after 5 s the page starts again.
        clearTimeout(lostTimer);
        lostTimer = setTimeout(function () { if (pc === conn && conn.connectionState !== "connected") lost(); }, 5000);
      }
    };
    conn.createOffer()
      .then(function (offer) { return conn.setLocalDescription(offer); })
      .then(function () { return gathered(conn); })
      .then(function () {
        return fetch("/whep/" + encodeURIComponent(token), {
          method: "POST",
          headers: { "Content-Type": "application/sdp" },
          body: conn.localDescription.sdp,
        });
      })
      .then(function (res) {
        if (pc !== conn) return null;
        if (res.status === 201) {
          session = res.headers.get("Location");
          return res.text().then(function (sdp) {
            return conn.setRemoteDescription({ type: "answer", sdp: sdp });
          });
        }
        if (res.status === 404) {
          endSession(false);
          show("revoked");
          return null;
        }
        if (res.status === 409) { retry("not_live", 10); return null; }
        if (res.status === 503) { retry("busy", 15); return null; }
        throw new Error("WHEP answered " + res.status);
      })
      .catch(function () { if (pc === conn) lost(); });
  }

  function lost() {
    failures += 1;
    retry("lost", Math.min(30, 2 * failures));
  }

  sound.addEventListener("click", function () {
    video.muted = !video.muted;
    if (!video.muted) video.play().catch(function () {});
    sound.setAttribute("aria-pressed", String(!video.muted));
    sound.textContent = texts[video.muted ? "watch.sound_on" : "watch.sound_off"];
  });
  window.addEventListener("pagehide", function () { endSession(true); });

  // For tests and operators' consoles: the page's state and what it has decoded.
  window.hoinghiWatch = {
    state: function () { return state; },
    stats: function () {
      if (!pc) return Promise.resolve({});
      return pc.getStats().then(function (report) {
        var out = {};
        report.forEach(function (r) {
          if (r.type !== "inbound-rtp") return;
          out[r.kind] = {
            packets: r.packetsReceived || 0,
            bytes: r.bytesReceived || 0,
            framesDecoded: r.framesDecoded || 0,
            frameWidth: r.frameWidth || 0,
            audioEnergy: r.totalAudioEnergy || 0,
          };
        });
        return out;
      });
    },
  };

  connect();
})();
