// The meeting room on /j/{token}: camera and microphone up, join over /ws (docs/protocol.md),
// publish with simulcast, show the halls the server puts in this page's receive slots.
(function () {
  "use strict";
  var room = document.getElementById("room");
  if (!room) return;
  var T = JSON.parse(document.getElementById("room-texts").textContent);
  var token = room.dataset.token;
  var VIDEO_SLOTS = 4, AUDIO_SLOTS = 4;
  // The host's page: the main picture and a 5×5 monitoring grid (`?tiles=N` for a smaller
  // grid on a weak PC, 1–25 tiles).
  var tilesParam = /[?&]tiles=(\d+)/.exec(location.search);
  var HOST_VIDEO_SLOTS = 1 + (tilesParam ? Math.min(25, Math.max(1, Number(tilesParam[1]))) : 25);
  var ENCODINGS = [
    { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150000 },
    { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500000 },
    { rid: "f", scaleResolutionDownBy: 1, maxBitrate: 1500000 },
  ];
  // Close codes and errors after which reconnecting cannot help.
  var FINAL = {
    replaced: "room.replaced", join_refused: "join.unknown", token_expired: "join.ended",
    token_too_early: "join.too_early", token_foreign_hall: "join.foreign",
    meeting_cancelled: "join.cancelled", unsupported_version: "room.refused",
    meeting_ended: "join.ended", removed: "room.removed", meeting_locked: "room.locked",
  };

  var $ = function (id) { return document.getElementById(id); };
  var stateEl = $("join-state"), note = $("room-note"), stage = $("stage"), grid = $("grid");

  var local = null;          // MediaStream from the camera and microphone
  var ws = null, pc = null;
  var sessionId = null, me = null, meeting = null;
  var halls = new Map();     // hall id -> name, every hall present (this one included)
  var slots = new Map();     // slot id -> {kind, mid, hallId}
  var tiles = new Map();     // hall id -> {el, video, label, slot}
  var audios = new Map();    // slot id -> <audio>
  var heartbeat = null, retry = null, attempts = 0;
  var offerPending = false, lastError = null, done = false, joined = false, wasConnected = false;
  // The pending offer renegotiates the connection (its slots keep their halls), and
  // whether another is due once it is answered (our tracks changed meanwhile).
  var renegotiating = false, renegotiateAgain = false;
  var screen = null;         // {stream, track, transceiver} while this hall shares its screen
  var events = [];           // the last server messages' types, for the tests
  // STUN/TURN servers with fresh TURN credentials from each welcome; `?ice=relay` forces
  // the TURN relay (a technician checking a hall's TURN path; the tests).
  var ice = { servers: [], policy: "all" };
  var floor = null, muted = false;
  // How many of our simulcast layers someone watches (send_layers); null: not told yet.
  var sendLayers = null;

  function setState(s, key) {
    hoinghi.state = s;
    room.dataset.state = s;
    stateEl.textContent = T[key] || key;
  }
  function showNote(key) {
    note.hidden = !key;
    note.textContent = key ? T[key] || key : "";
  }
  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }
  function mediaState() {
    if (done) return;
    if (joined && pc && pc.connectionState === "connected") {
      wasConnected = true;
      setState("connected", "room.connected");
    } else if (wasConnected || attempts > 0) setState("reconnecting", "room.reconnecting");
    else setState("connecting", "room.connecting");
  }

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
      else $("self-video").parentNode.hidden = true;
      return stream;
    });
  }

  // ---- the socket ----
  function connect() {
    retry = null;
    lastError = null;
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(proto + location.host + "/ws");
    ws = socket;
    hoinghi._ws = socket;
    socket.onopen = function () {
      var join = { type: "join", v: 1, token: token };
      if (sessionId) join.resume = sessionId;
      send(join);
    };
    socket.onmessage = function (e) {
      if (socket !== ws) return;
      var msg;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      events.push(msg.type + (msg.code ? ":" + msg.code : "") + (msg.reason ? ":" + msg.reason : ""));
      if (events.length > 200) events.shift();
      var handler = handlers[msg.type];
      if (handler) handler(msg);
      // The console (host) and hall controls listen too (console.js, hall.js).
      hoinghi.listeners.forEach(function (fn) { try { fn(msg); } catch (err) { console.warn(err); } });
    };
    socket.onclose = function (e) {
      if (socket !== ws) return;
      clearInterval(heartbeat);
      joined = false;
      if (done) return;
      var code = lastError || e.reason;
      if (FINAL[code]) return finish(code === "replaced" || code === "removed" ? code : "ended", FINAL[code]);
      // Anything else (network, heartbeat, server restart): come back with backoff.
      attempts += 1;
      setState("reconnecting", "room.reconnecting");
      var delay = Math.min(15000, 500 * Math.pow(2, Math.min(attempts - 1, 5)));
      retry = setTimeout(connect, delay + Math.random() * 300);
    };
  }

  function finish(state, key) {
    done = true;
    clearInterval(heartbeat);
    clearTimeout(retry);
    if (pc) pc.close();
    pc = null;
    slots.clear();
    render();
    setState(state, key);
    $("leave").hidden = true;
    $("rejoin").hidden = state === "ended";
    // A kiosk goes back to its own page once the meeting is over.
    if (state === "ended" && /[?&]kiosk=1/.test(location.search)) {
      setTimeout(function () { location.href = "/kiosk" + (meeting ? "?done=" + meeting.id : ""); }, 4000);
    }
  }

  var handlers = {
    welcome: function (m) {
      sessionId = m.session_id;
      me = m.hall;
      meeting = m.meeting;
      joined = true;
      halls.clear();
      m.participants.forEach(function (p) { halls.set(p.hall_id, p.name); });
      clearInterval(heartbeat);
      heartbeat = setInterval(function () { send({ type: "ping", ts: performance.now() }); }, m.heartbeat_ms || 10000);
      if (m.state) applyState(m.state);
      ice.servers = m.ice_servers || [];
      ice.policy = /[?&]ice=relay/.test(location.search) ? "relay" : m.ice_transport_policy || "all";
      newOffer();
      render();
    },
    meeting_state: function (m) { applyState(m); render(); },
    floor: function (m) { floor = m.hall_id; render(); },
    muted: function (m) { setMuted(m.muted); },
    send_layers: function (m) { sendLayers = m.layers; applySendLayers(); },
    answer: function (m) {
      if (!pc || !offerPending) return;
      var conn = pc;
      // Slots are known now (mids were set with the offer); subscriptions follow. After a
      // renegotiation the slots kept show what they showed (no subscription is resent).
      var before = renegotiating ? new Map(slots) : new Map();
      offerPending = false;
      renegotiating = false;
      attempts = 0;
      slots.clear();
      m.slots.forEach(function (s) {
        var was = before.get(s.id);
        slots.set(s.id, was && was.mid === s.mid ? was : { kind: s.kind, mid: s.mid, hallId: null });
      });
      conn.setRemoteDescription({ type: "answer", sdp: m.sdp }).then(function () {
        if (conn !== pc) return;
        if (renegotiateAgain) { renegotiateAgain = false; renegotiate(); }
        applySendLayers();
        setActive("audio", function () { return !muted; });
        render();
      }).catch(function (err) { console.warn("answer", err); });
    },
    candidate: function (m) {
      if (!pc || !m.candidate) return;
      pc.addIceCandidate({
        candidate: m.candidate, sdpMid: m.sdp_mid, sdpMLineIndex: m.sdp_mline_index,
        usernameFragment: m.username_fragment || undefined,
      }).catch(function (err) { console.warn("candidate", err); });
    },
    subscription: function (m) {
      var s = slots.get(m.slot);
      if (!s || (offerPending && !renegotiating)) return; // about a connection already replaced
      if (s.hallId !== m.source_hall_id && s.cap !== undefined) {
        // A new source starts at the policy's layer again.
        delete s.cap;
        if (m.kind === "video") send({ type: "set_layer", slot: m.slot, layer: 2 });
      }
      s.hallId = m.source_hall_id;
      s.seen = null;
      render();
    },
    participant_joined: function (m) { halls.set(m.hall_id, m.name); render(); },
    participant_left: function (m) {
      halls.delete(m.hall_id);
      slots.forEach(function (s) { if (s.hallId === m.hall_id) s.hallId = null; });
      render();
    },
    error: function (m) {
      lastError = m.code;
      if (renegotiating && /^(invalid_sdp|internal|out_of_order)$/.test(m.code)) {
        // The connection stays as it was; take our offer back.
        console.warn("renegotiation refused:", m.message);
        offerPending = renegotiating = false;
        if (pc) pc.setLocalDescription({ type: "rollback" }).catch(function (err) { console.warn("rollback", err); });
        return;
      }
      if (m.code === "media_failed" && !offerPending) newOffer();
      if (m.code === "invalid_sdp" || m.code === "internal") {
        console.warn("offer refused:", m.message);
        // Should the server not take simulcast, publish one encoding instead.
        if (offerPending && hoinghi.simulcast) { hoinghi.simulcast = false; newOffer(); }
      }
    },
  };

  // ---- the chaired meeting: who holds the floor, whether this hall's microphone is open ----
  function applyState(st) {
    floor = st.floor ? st.floor.hall_id : null;
    if (me && st.muted) setMuted(st.muted.indexOf(me.id) >= 0);
  }
  function setMuted(on) {
    // The server forwards no audio of a muted hall anyway; the page obeys too.
    muted = !!on;
    if (local) local.getAudioTracks().forEach(function (t) { t.enabled = !muted; });
    // Nobody receives a muted hall's audio: stop sending it at all.
    setActive("audio", function () { return !muted; });
    $("mic-state").textContent = T[muted ? "room.mic_off" : "room.mic_on"];
    $("mic-state").className = muted ? "mic mic-off" : "mic mic-on";
  }

  // Pauses or resumes our sending encodings of one kind (simulcast layers, low to high).
  function setActive(kind, wanted) {
    var sender = pc && pc.getSenders().find(function (x) { return x.track && x.track.kind === kind; });
    if (!sender) return;
    var params = sender.getParameters();
    if (!params.encodings || !params.encodings.length) return;
    var changed = false;
    params.encodings.forEach(function (e, i) {
      var on = wanted(i);
      if (e.active !== on) { e.active = on; changed = true; }
    });
    if (changed) sender.setParameters(params).catch(function (err) { console.warn("setParameters", err); });
  }
  function applySendLayers() {
    // The lowest layer always stays on; a single encoding is never paused.
    if (sendLayers === null) return;
    setActive("video", function (i) { return i === 0 || i < sendLayers; });
  }

  // A receive slot only needs what the SFU forwards (VP8, H.264 and their retransmissions):
  // Chromium lists ~5 KiB of codecs per video m-line otherwise, and the host asks for 26.
  function receiveOnly(transceiver) {
    var caps = window.RTCRtpReceiver && RTCRtpReceiver.getCapabilities && RTCRtpReceiver.getCapabilities("video");
    if (!caps || !transceiver.setCodecPreferences) return;
    var keep = caps.codecs.filter(function (c) { return /^video\/(VP8|H264|rtx)$/i.test(c.mimeType); });
    try { transceiver.setCodecPreferences(keep); } catch (err) { console.warn("codecs", err); }
  }

  // ?codec=h264: the camera publishes H.264 (one encoding) if the server offers it
  // (setting media_h264), VP8 otherwise; halls that decode no H.264 show it dark.
  function preferCodec(transceiver) {
    var caps = window.RTCRtpSender && RTCRtpSender.getCapabilities && RTCRtpSender.getCapabilities("video");
    if (hoinghi.codec !== "h264" || !caps || !transceiver.setCodecPreferences) return;
    var rank = function (c) {
      if (/^video\/H264$/i.test(c.mimeType)) return /packetization-mode=1/.test(c.sdpFmtpLine || "") ? 0 : 1;
      return /^video\/(VP8|rtx)$/i.test(c.mimeType) ? 2 : 3;
    };
    var keep = caps.codecs.filter(function (c) { return rank(c) < 3; });
    keep.sort(function (a, b) { return rank(a) - rank(b); });
    try { transceiver.setCodecPreferences(keep); } catch (err) { console.warn("codecs", err); }
  }

  // ---- the media connection ----
  function newOffer() {
    if (pc) pc.close();
    slots.clear();
    var conn = new RTCPeerConnection({ bundlePolicy: "max-bundle", iceServers: ice.servers, iceTransportPolicy: ice.policy });
    pc = conn;
    hoinghi._pc = conn;
    offerPending = true;
    mediaState();
    var video = local && local.getVideoTracks()[0];
    var audio = local && local.getAudioTracks()[0];
    if (video) {
      var init = { direction: "sendonly", streams: [local] };
      if (hoinghi.simulcast) init.sendEncodings = ENCODINGS;
      preferCodec(conn.addTransceiver(video, init));
    }
    if (audio) conn.addTransceiver(audio, { direction: "sendonly", streams: [local] });
    renegotiating = renegotiateAgain = false;
    if (screen) screen.transceiver = conn.addTransceiver(screen.track, { direction: "sendonly", streams: [screen.stream] });
    // A new connection sends every layer until the server says what is watched.
    sendLayers = null;
    var hosting = me && meeting && me.id === meeting.host_hall_id;
    var videoSlots = hosting ? HOST_VIDEO_SLOTS : VIDEO_SLOTS;
    for (var i = 0; i < videoSlots; i++) receiveOnly(conn.addTransceiver("video", { direction: "recvonly" }));
    for (var j = 0; j < AUDIO_SLOTS; j++) conn.addTransceiver("audio", { direction: "recvonly" });
    conn.onicecandidate = function (e) {
      if (conn !== pc) return;
      var c = e.candidate;
      send({
        type: "candidate", candidate: c ? c.candidate : "", sdp_mid: c ? c.sdpMid : null,
        sdp_mline_index: c ? c.sdpMLineIndex : null, username_fragment: c ? c.usernameFragment : null,
      });
    };
    conn.onconnectionstatechange = function () {
      if (conn !== pc) return;
      mediaState();
      // The server notices too and says media_failed; only act if it cannot (socket up, no word).
      if (conn.connectionState === "failed" && joined && !offerPending) {
        setTimeout(function () { if (conn === pc && !offerPending) newOffer(); }, 3000);
      }
    };
    conn.createOffer().then(function (offer) {
      return conn.setLocalDescription(offer).then(function () {
        if (conn === pc) send({ type: "offer", sdp: conn.localDescription.sdp });
      });
    }).catch(function (err) { console.warn("offer", err); });
  }

  // A new offer on the same connection after our tracks changed (`renegotiate: true`):
  // the others see no one leave, our slots keep their halls. After media_failed a new
  // connection replaces it instead (newOffer).
  function renegotiate() {
    if (!pc) return;
    if (offerPending) { renegotiateAgain = true; return; }
    var conn = pc;
    offerPending = renegotiating = true;
    conn.createOffer().then(function (offer) {
      return conn.setLocalDescription(offer).then(function () {
        if (conn === pc) send({ type: "offer", sdp: conn.localDescription.sdp, renegotiate: true });
      });
    }).catch(function (err) {
      console.warn("renegotiate", err);
      if (conn === pc) offerPending = renegotiating = false;
    });
  }

  // ---- sharing the screen (Chia sẻ màn hình): a second video track, same connection ----
  function shareScreen() {
    if (screen) { stopScreen(); return; }
    if (!pc || !navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) return;
    navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }).then(function (stream) {
      var track = stream.getVideoTracks()[0];
      if (!track || !pc || screen) { stream.getTracks().forEach(function (t) { t.stop(); }); return; }
      screen = { stream: stream, track: track, transceiver: pc.addTransceiver(track, { direction: "sendonly", streams: [stream] }) };
      track.onended = stopScreen; // the browser's own "stop sharing"
      $("share").setAttribute("aria-pressed", "true");
      renegotiate();
    }).catch(function (err) { console.warn("share", err); });
  }
  function stopScreen() {
    if (!screen) return;
    var s = screen;
    screen = null;
    s.track.onended = null;
    s.track.stop();
    $("share").setAttribute("aria-pressed", "false");
    if (!pc || pc.getTransceivers().indexOf(s.transceiver) < 0) return;
    try { pc.removeTrack(s.transceiver.sender); } catch (err) { console.warn("unshare", err); return; }
    renegotiate();
  }
  if ($("share")) $("share").addEventListener("click", shareScreen);

  function receiverOf(mid) {
    if (!pc || mid === null) return null;
    var t = pc.getTransceivers().find(function (x) { return x.mid === mid; });
    return t ? t.receiver : null;
  }

  // ---- tiles ----
  function render() {
    // One tile per hall shown in a slot: its video slot if any, else an audio-only tile.
    var shown = new Map();
    slots.forEach(function (s, id) {
      if (s.hallId === null || !halls.has(s.hallId)) return;
      var cur = shown.get(s.hallId);
      if (!cur || (s.kind === "video" && cur.kind !== "video")) shown.set(s.hallId, { slot: id, kind: s.kind });
    });
    tiles.forEach(function (tile, hallId) {
      if (!shown.has(hallId)) { tile.el.remove(); tiles.delete(hallId); }
    });
    var host = meeting ? meeting.host_hall_id : null;
    shown.forEach(function (want, hallId) {
      var tile = tiles.get(hallId);
      if (!tile) {
        tile = { el: document.createElement("figure"), video: document.createElement("video"), label: document.createElement("figcaption"), slot: null, track: null };
        tile.el.className = "tile";
        tile.video.autoplay = true;
        tile.video.muted = true; // sound comes from the audio slots
        tile.video.playsInline = true;
        tile.el.appendChild(tile.video);
        tile.el.appendChild(tile.label);
        tile.el.dataset.hall = hallId;
        tiles.set(hallId, tile);
      }
      var receiver = want.kind === "video" ? receiverOf(slots.get(want.slot).mid) : null;
      var track = receiver ? receiver.track : null;
      if (tile.track !== track) {
        tile.video.srcObject = track ? new MediaStream([track]) : null;
        tile.track = track;
      }
      tile.slot = want.slot;
      tile.el.classList.toggle("no-video", !track);
      var name = halls.get(hallId);
      tile.label.textContent = (hallId === host ? T["room.host"] + ": " : "") + name +
        (hallId === floor ? " · " + T["room.floor"] : "") + (track ? "" : " · " + T["room.no_video"]);
      // Large: the host; on the host's own page, the hall holding the floor.
      var large = hallId === host || (me && me.id === host && hallId === floor);
      var parent = large ? stage : grid;
      if (tile.el.parentNode !== parent) parent.appendChild(tile.el);
    });
    slots.forEach(function (s, id) {
      if (s.kind !== "audio") return;
      var el = audios.get(id);
      var receiver = receiverOf(s.mid);
      if (!el) { el = document.createElement("audio"); el.autoplay = true; $("audio").appendChild(el); audios.set(id, el); }
      var track = receiver ? receiver.track : null;
      if (!el.srcObject || el.srcObject.getTracks()[0] !== track) el.srcObject = track ? new MediaStream([track]) : null;
    });
    room.classList.toggle("has-host", stage.childElementCount > 0);
    $("waiting").hidden = done || tiles.size > 0;
    $("roster-count").textContent = halls.size ? halls.size + " " + T["room.present"] : "";
  }

  // ---- frozen tiles ----
  // A publisher may stop sending its top simulcast layer (a busy PC drops it); a tile
  // whose packets stop for ~4 s asks for one layer lower (set_layer), down to the lowest.
  setInterval(function () {
    if (!hoinghi.watchdog || !pc || offerPending) return;
    slots.forEach(function (s, id) {
      var receiver = s.kind === "video" && s.hallId !== null ? receiverOf(s.mid) : null;
      if (!receiver) return;
      receiver.getStats().then(function (report) {
        var n = 0; // no inbound-rtp yet: nothing has arrived at all
        report.forEach(function (r) { if (r.type === "inbound-rtp") n = r.packetsReceived; });
        if (s.seen && s.seen.n === n && ++s.seen.still >= 2 && (s.cap === undefined || s.cap > 0)) {
          s.cap = s.cap === undefined ? 1 : s.cap - 1;
          hoinghi.capped.push({ slot: id, hallId: s.hallId, layer: s.cap });
          send({ type: "set_layer", slot: id, layer: s.cap });
          s.seen.still = 0;
        } else if (!s.seen || s.seen.n !== n) s.seen = { n: n, still: 0 };
      });
    });
  }, 2000);

  // ---- leaving ----
  function leave() {
    if (done) return;
    send({ type: "leave" });
    finish("left", "room.left");
  }
  $("leave").addEventListener("click", leave);
  $("rejoin").addEventListener("click", function () { location.reload(); });
  window.addEventListener("pagehide", function () { if (!done) send({ type: "leave" }); });

  // ---- the debug hook (tests, and a technician's console) ----
  var hoinghi = window.hoinghi = {
    state: "ready",
    codec: /[?&]codec=h264/i.test(location.search) ? "h264" : "vp8",
    simulcast: !/[?&](simulcast=0|codec=h264)/i.test(location.search),
    events: events,
    listeners: [],  // functions called with every server message, after the room's own handling
    send: send,
    renegotiate: renegotiate,  // a new offer on the same connection (as after sharing the screen)
    meeting: function () { return meeting; },
    _ws: null,
    _pc: null,
    hallId: function () { return me ? me.id : null; },
    muted: function () { return muted; },
    sendLayers: function () { return sendLayers; },
    // Which of our sending encodings are active, by kind: {video: [true, false, false], audio: [true]}.
    sending: function () {
      var out = {};
      if (pc) pc.getSenders().forEach(function (x) {
        if (x.track && !(x.track.kind in out)) out[x.track.kind] = x.getParameters().encodings.map(function (e) { return e.active !== false; });
      });
      return out;
    },
    watchdog: true,
    capped: [],  // set_layer sent by the frozen-tile watchdog: [{slot, hallId, layer}]
    floor: function () { return floor; },
    halls: function () { return Array.from(halls, function (h) { return { hallId: h[0], name: h[1] }; }); },
    tiles: function () {
      var out = [];
      slots.forEach(function (s, id) {
        if (s.hallId !== null && halls.has(s.hallId)) out.push({ hallId: s.hallId, name: halls.get(s.hallId), slot: id, kind: s.kind });
      });
      return out;
    },
    stats: function () {
      return Promise.all(hoinghi.tiles().map(function (t) {
        var receiver = receiverOf(slots.get(t.slot).mid);
        if (!receiver) return t;
        return receiver.getStats().then(function (report) {
          report.forEach(function (r) {
            if (r.type !== "inbound-rtp") return;
            t.packetsReceived = r.packetsReceived;
            t.bytesReceived = r.bytesReceived;
            t.packetsLost = r.packetsLost;
            t.nackCount = r.nackCount;
            if (t.kind === "video") {
              t.framesDecoded = r.framesDecoded; t.frameWidth = r.frameWidth; t.frameHeight = r.frameHeight;
              t.keyFramesDecoded = r.keyFramesDecoded; t.pliCount = r.pliCount; t.firCount = r.firCount;
              t.framesReceived = r.framesReceived; t.framesDropped = r.framesDropped;
            }
            else t.totalAudioEnergy = r.totalAudioEnergy;
          });
          return t;
        });
      }));
    },
    sendStats: function () {
      if (!pc) return Promise.resolve([]);
      return pc.getStats().then(function (report) {
        var out = [];
        report.forEach(function (r) {
          if (r.type === "outbound-rtp") out.push({ kind: r.kind, rid: r.rid || null, packetsSent: r.packetsSent, framesEncoded: r.framesEncoded, frameWidth: r.frameWidth });
        });
        return out;
      });
    },
  };

  setState("connecting", "room.connecting");
  openMedia().then(function (stream) { local = stream; connect(); });
})();
