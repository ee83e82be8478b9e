// The meeting room's protocol client (docs/protocol.md): one WebSocket to /ws, join and
// resume, heartbeat, reconnection, the media connection (offer, answer, candidates,
// renegotiation, simulcast layers, mute) and the receive slots. It draws nothing.
//
// Page API. room.js makes the page's one client, `hn.room = hn.roomClient(options)`;
// tiles.js, hall.js, console.js, kiosk.js and testhook.js use it:
//   options         {token, videoSlots, audioSlots, hostVideoSlots, simulcast,
//                    codec ("vp8" | "h264"), relay (TURN only)}
//   room.connect(stream)
//                   opens the socket, publishing `stream` (camera and microphone, or null);
//                   from then on the client reconnects by itself
//   room.on(type, fn)
//                   fn(msg) for each server message of that type ("*": every one), after
//                   the client's own handling; and the client's own events:
//                   "state"  fn(state, textKey): connecting | connected | reconnecting,
//                            or final: left | ended | replaced | removed
//                   "change" fn(): halls, slots, floor, speaker or received tracks changed
//                   "muted"  fn(muted): the server opened or closed this hall's microphone
//   room.send(msg)  sends if the socket is open (host controls, hand, roll call, headcount)
//   room.leave()    the explicit leave (the button): `leave`, then everything stops. Closing
//                   or reloading the page is not a leave: the server keeps the hall for its
//                   grace period and the reloaded page's join replaces the old session.
//   room.renegotiate()            a new offer on the same connection (tracks changed)
//   room.setScreen(track, stream) shares a screen track (null: stops sharing)
//   room.receiverOf(mid)          the RTCRtpReceiver of a slot's m-line, or null
//   read only: state, done (in a final state), me {id, name}, meeting (welcome.meeting),
//   halls (Map hall id → name, every hall present), slots (Map slot id → {kind, mid,
//   hallId}), floor and speaker (hall ids or null), muted, sendLayers, simulcast, pc, ws
// Reconnecting: the first retry follows at once (≤ 250 ms), then after ~0.5, 1, 2 and 4 s,
// then every 2.5–5 s (each delay jittered so that 200 halls do not come back in step); a
// close with code 1012 (the server restarts) starts again at once. After a reload the
// page's last session id (sessionStorage) is sent as `resume`. A join refused with
// `capacity` (the server is full) shows "room.capacity" and retries every 15–30 s; one
// refused with `home_elsewhere` (another node of a cluster holds the meeting) goes to
// the node it names if the page knows its address, else shows "room.home_elsewhere" and
// retries as slowly.
// Several nodes (options `node`, this page's node id, and `nodes`, every node's public
// base URL by id, from the cluster's `public_urls`): the socket goes to the current
// node; a connection lost any other way than a restart notice (1012) moves on to the
// next node in id order (and so, round the list, back), whose answer — a welcome, or
// `home_elsewhere` naming the meeting's home — settles where the hall belongs.
(function () {
  "use strict";
  var hn = window.hn;
  var ENCODINGS = [
    { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150000 },
    { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500000 },
    { rid: "f", scaleResolutionDownBy: 1, maxBitrate: 1500000 },
  ];
  // Close codes and errors after which reconnecting cannot help: the page's state and text.
  var FINAL = {
    replaced: "room.replaced", join_refused: "join.unknown", token_expired: "join.ended",
    token_too_early: "join.too_early", token_foreign_hall: "join.foreign",
    meeting_cancelled: "join.cancelled", unsupported_version: "room.refused",
    meeting_ended: "join.ended", removed: "room.removed", meeting_locked: "room.locked",
    guest_revoked: "join.revoked",
  };
  var SERVICE_RESTART = 1012, BACKOFF_CAP = 5000, CAPACITY_RETRY = 30000;

  /** Milliseconds before reconnect attempt `n` (1, 2, …): 125–250 ms, doubling to 2.5–5 s. */
  function backoff(n) {
    var base = Math.min(BACKOFF_CAP, 250 * Math.pow(2, Math.min(n - 1, 5)));
    return base / 2 + Math.random() * base / 2;
  }
  /** The attempt after a close with `code` that followed `attempts` failed ones: a restart
   *  notice (1012) starts again from the first, immediate retry. */
  function nextAttempt(attempts, code) { return code === SERVICE_RESTART ? 1 : attempts + 1; }
  /** The node (index into `nodes`, the cluster's node ids in id order) to try after a
   *  socket to node `at` closed with `code` after error `error` (`message`): the node a
   *  `home_elsewhere` names, the same node after a restart notice (1012), else the next
   *  one round the list. -1: no other node to go to (the slow retry of `home_elsewhere`
   *  on the same node). */
  function nodeAfter(nodes, at, code, error, message) {
    if (error === "home_elsewhere") {
      var named = /on node ([a-z0-9_-]{1,32})/.exec(message || "");
      var home = named ? nodes.indexOf(named[1]) : -1;
      return home >= 0 && home !== at ? home : -1;
    }
    if (nodes.length < 2 || code === SERVICE_RESTART) return at;
    return (at + 1) % nodes.length;
  }
  // The schedule and the node rule, for tests/browser/backoff.test.mjs and nodes.test.mjs.
  hn.reconnect = { delay: backoff, next: nextAttempt, node: nodeAfter };

  hn.roomClient = function (opts) {
    var listeners = {};
    var room = {
      state: "connecting", done: false, me: null, meeting: null, halls: new Map(), sources: new Set(), slots: new Map(),
      floor: null, speaker: null, muted: false, sendLayers: null,
      simulcast: opts.simulcast !== false, pc: null, ws: null,
    };
    var local = null; // the camera and microphone (MediaStream)
    // The session to resume: this socket's, or (after a reload) the page's last one.
    var resumeKey = "hoinghi.session." + opts.token;
    var sessionId = sessionStorage.getItem(resumeKey);
    var heartbeat = null, retry = null, attempts = 0;
    var offerPending = false, lastError = null, done = false, joined = false, wasConnected = false;
    // The pending offer renegotiates the connection (its slots keep their halls), and
    // whether another is due once it is answered (our tracks changed meanwhile).
    var renegotiating = false, renegotiateAgain = false;
    var screen = null; // {stream, track, transceiver} while this hall shares its screen
    var ice = { servers: [], policy: "all" };
    // The nodes of a cluster in id order, and the one the socket goes to.
    var nodes = opts.nodes ? Object.keys(opts.nodes).sort() : [];
    var node = Math.max(0, nodes.indexOf(opts.node));
    var lastMessage = "";
    function socketUrl() {
      var base = nodes.length ? opts.nodes[nodes[node]] : location.protocol + "//" + location.host;
      return base.replace(/^http/, "ws") + "/ws";
    }

    function emit(type) {
      var args = Array.prototype.slice.call(arguments, 1);
      (listeners[type] || []).forEach(function (fn) {
        try { fn.apply(null, args); } catch (err) { console.warn(err); }
      });
    }
    function setState(s, key) { room.state = s; emit("state", s, key); }
    function changed() { emit("change"); }
    function send(msg) {
      if (room.ws && room.ws.readyState === WebSocket.OPEN) room.ws.send(JSON.stringify(msg));
    }
    function mediaState() {
      if (done) return;
      if (joined && room.pc && room.pc.connectionState === "connected") {
        wasConnected = true;
        setState("connected", "room.connected");
      } else if (wasConnected || attempts > 0) setState("reconnecting", "room.reconnecting");
      else setState("connecting", "room.connecting");
    }

    // ---- the socket ----
    function connect() {
      retry = null;
      lastError = null;
      lastMessage = "";
      var socket = new WebSocket(socketUrl());
      room.ws = socket;
      socket.onopen = function () {
        var join = { type: "join", v: 1, token: opts.token };
        if (sessionId) join.resume = sessionId;
        send(join);
      };
      socket.onmessage = function (e) {
        if (socket !== room.ws) return;
        var msg;
        try { msg = JSON.parse(e.data); } catch (err) { return; }
        var handler = handlers[msg.type];
        if (handler) handler(msg);
        emit(msg.type, msg);
        emit("*", msg);
      };
      socket.onclose = function (e) {
        if (socket !== room.ws) return;
        clearInterval(heartbeat);
        joined = false;
        if (done) return;
        var code = lastError || e.reason;
        if (FINAL[code]) return finish(code === "replaced" || code === "removed" ? code : "ended", FINAL[code]);
        // Another node is home and the page knows its address: go there at once.
        var home = code === "home_elsewhere" ? nodeAfter(nodes, node, e.code, code, lastMessage) : -1;
        if (home >= 0) {
          node = home;
          setState("reconnecting", "room.reconnecting");
          retry = setTimeout(connect, backoff(1));
          return;
        }
        if (code === "capacity" || code === "home_elsewhere") {
          // The server is full (or another node is the meeting's home): say so, and try
          // again slowly (15–30 s) rather than press it.
          setState("reconnecting", code === "capacity" ? "room.capacity" : "room.home_elsewhere");
          retry = setTimeout(connect, CAPACITY_RETRY / 2 + Math.random() * CAPACITY_RETRY / 2);
          return;
        }
        // Anything else (network, heartbeat, a server restart): come back, fast at first.
        attempts = nextAttempt(attempts, e.code);
        node = nodeAfter(nodes, node, e.code, code, lastMessage);
        setState("reconnecting", "room.reconnecting");
        retry = setTimeout(connect, backoff(attempts));
      };
    }

    function finish(state, key) {
      done = room.done = true;
      clearInterval(heartbeat);
      clearTimeout(retry);
      sessionStorage.removeItem(resumeKey);
      if (room.pc) room.pc.close();
      room.pc = null;
      room.slots.clear();
      setState(state, key);
      changed();
    }

    var handlers = {
      welcome: function (m) {
        sessionId = m.session_id;
        sessionStorage.setItem(resumeKey, sessionId);
        room.me = m.hall;
        room.meeting = m.meeting;
        joined = true;
        room.halls.clear();
        room.sources.clear();
        room.speaker = null;
        m.participants.forEach(function (p) {
          room.halls.set(p.hall_id, p.name);
          if (p.source) room.sources.add(p.hall_id);
        });
        clearInterval(heartbeat);
        heartbeat = setInterval(function () { send({ type: "ping", ts: performance.now() }); }, m.heartbeat_ms || 10000);
        if (m.state) applyState(m.state);
        ice.servers = m.ice_servers || [];
        ice.policy = opts.relay ? "relay" : m.ice_transport_policy || "all";
        newOffer();
        changed();
      },
      meeting_state: function (m) { applyState(m); changed(); },
      floor: function (m) { room.floor = m.hall_id; changed(); },
      active_speaker: function (m) { room.speaker = m.hall_id == null ? null : m.hall_id; changed(); },
      muted: function (m) { setMuted(m.muted); },
      send_layers: function (m) { room.sendLayers = m.layers; applySendLayers(); },
      answer: function (m) {
        var conn = room.pc;
        if (!conn || !offerPending) return;
        // Slots are known now (mids were set with the offer); subscriptions follow. After a
        // renegotiation the slots kept show what they showed (no subscription is resent).
        var before = renegotiating ? new Map(room.slots) : new Map();
        offerPending = false;
        renegotiating = false;
        attempts = 0;
        room.slots.clear();
        m.slots.forEach(function (s) {
          var was = before.get(s.id);
          room.slots.set(s.id, was && was.mid === s.mid ? was : { kind: s.kind, mid: s.mid, hallId: null });
        });
        conn.setRemoteDescription({ type: "answer", sdp: m.sdp }).then(function () {
          if (conn !== room.pc) return;
          if (renegotiateAgain) { renegotiateAgain = false; renegotiate(); }
          applySendLayers();
          setActive("audio", function () { return !room.muted; });
          changed();
        }).catch(function (err) { console.warn("answer", err); });
      },
      candidate: function (m) {
        if (!room.pc || !m.candidate) return;
        room.pc.addIceCandidate({
          candidate: m.candidate, sdpMid: m.sdp_mid, sdpMLineIndex: m.sdp_mline_index,
          usernameFragment: m.username_fragment || undefined,
        }).catch(function (err) { console.warn("candidate", err); });
      },
      subscription: function (m) {
        var s = room.slots.get(m.slot);
        if (!s || (offerPending && !renegotiating)) return; // about a connection already replaced
        if (s.hallId !== m.source_hall_id && s.cap !== undefined) {
          // A new source starts at the policy's layer again.
          delete s.cap;
          if (m.kind === "video") send({ type: "set_layer", slot: m.slot, layer: 2 });
        }
        s.hallId = m.source_hall_id;
        s.seen = null;
        changed();
      },
      participant_joined: function (m) {
        room.halls.set(m.hall_id, m.name);
        if (m.source) room.sources.add(m.hall_id);
        changed();
      },
      participant_left: function (m) {
        room.halls.delete(m.hall_id);
        room.sources.delete(m.hall_id);
        if (room.speaker === m.hall_id) room.speaker = null;
        room.slots.forEach(function (s) { if (s.hallId === m.hall_id) s.hallId = null; });
        changed();
      },
      error: function (m) {
        lastError = m.code;
        lastMessage = m.message || "";
        if (renegotiating && /^(invalid_sdp|internal|out_of_order)$/.test(m.code)) {
          // The connection stays as it was; take our offer back.
          console.warn("renegotiation refused:", m.message);
          offerPending = renegotiating = false;
          if (room.pc) room.pc.setLocalDescription({ type: "rollback" }).catch(function (err) { console.warn("rollback", err); });
          return;
        }
        if (m.code === "media_failed" && !offerPending) newOffer();
        if (m.code === "invalid_sdp" || m.code === "internal") {
          console.warn("offer refused:", m.message);
          // Should the server not take simulcast, publish one encoding instead.
          if (offerPending && room.simulcast) { room.simulcast = false; newOffer(); }
        }
      },
    };

    // ---- the chaired meeting: who holds the floor, whether this hall's microphone is open ----
    function applyState(st) {
      room.floor = st.floor ? st.floor.hall_id : null;
      if (room.me && st.muted) setMuted(st.muted.indexOf(room.me.id) >= 0);
    }
    function setMuted(on) {
      // The server forwards no audio of a muted hall anyway; the page obeys too and, as
      // nobody receives it, stops sending it at all.
      room.muted = !!on;
      if (local) local.getAudioTracks().forEach(function (t) { t.enabled = !room.muted; });
      setActive("audio", function () { return !room.muted; });
      emit("muted", room.muted);
    }

    // Pauses or resumes our sending encodings of one kind (simulcast layers, low to high).
    function setActive(kind, wanted) {
      var sender = room.pc && room.pc.getSenders().find(function (x) { return x.track && x.track.kind === kind; });
      if (!sender) return;
      var params = sender.getParameters();
      if (!params.encodings || !params.encodings.length) return;
      var change = false;
      params.encodings.forEach(function (e, i) {
        var on = wanted(i);
        if (e.active !== on) { e.active = on; change = true; }
      });
      if (change) sender.setParameters(params).catch(function (err) { console.warn("setParameters", err); });
    }
    function applySendLayers() {
      // The lowest layer always stays on; a single encoding is never paused.
      if (room.sendLayers === null) return;
      setActive("video", function (i) { return i === 0 || i < room.sendLayers; });
    }

    // A receive slot only needs what the SFU forwards (VP8, H.264 and their retransmissions):
    // Chromium lists ~5 KiB of codecs per video m-line otherwise, and the host asks for 26.
    function receiveOnly(transceiver) {
      var caps = window.RTCRtpReceiver && RTCRtpReceiver.getCapabilities && RTCRtpReceiver.getCapabilities("video");
      if (!caps || !transceiver.setCodecPreferences) return;
      var keep = caps.codecs.filter(function (c) { return /^video\/(VP8|H264|rtx)$/i.test(c.mimeType); });
      try { transceiver.setCodecPreferences(keep); } catch (err) { console.warn("codecs", err); }
    }

    // codec "h264": the camera publishes H.264 (one encoding) if the server offers it
    // (setting media_h264), VP8 otherwise; halls that decode no H.264 show it dark.
    function preferCodec(transceiver) {
      var caps = window.RTCRtpSender && RTCRtpSender.getCapabilities && RTCRtpSender.getCapabilities("video");
      if (opts.codec !== "h264" || !caps || !transceiver.setCodecPreferences) return;
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
      if (room.pc) room.pc.close();
      room.slots.clear();
      var conn = new RTCPeerConnection({ bundlePolicy: "max-bundle", iceServers: ice.servers, iceTransportPolicy: ice.policy });
      room.pc = conn;
      offerPending = true;
      mediaState();
      var video = local && local.getVideoTracks()[0];
      var audio = local && local.getAudioTracks()[0];
      if (video) {
        var init = { direction: "sendonly", streams: [local] };
        if (room.simulcast) init.sendEncodings = ENCODINGS;
        preferCodec(conn.addTransceiver(video, init));
      }
      if (audio) conn.addTransceiver(audio, { direction: "sendonly", streams: [local] });
      renegotiating = renegotiateAgain = false;
      if (screen) screen.transceiver = conn.addTransceiver(screen.track, { direction: "sendonly", streams: [screen.stream] });
      // A new connection sends every layer until the server says what is watched.
      room.sendLayers = null;
      var hosting = room.me && room.meeting && room.me.id === room.meeting.host_hall_id;
      var videoSlots = hosting ? opts.hostVideoSlots : opts.videoSlots;
      for (var i = 0; i < videoSlots; i++) receiveOnly(conn.addTransceiver("video", { direction: "recvonly" }));
      for (var j = 0; j < opts.audioSlots; j++) conn.addTransceiver("audio", { direction: "recvonly" });
      conn.onicecandidate = function (e) {
        if (conn !== room.pc) return;
        var c = e.candidate;
        send({
          type: "candidate", candidate: c ? c.candidate : "", sdp_mid: c ? c.sdpMid : null,
          sdp_mline_index: c ? c.sdpMLineIndex : null, username_fragment: c ? c.usernameFragment : null,
        });
      };
      conn.onconnectionstatechange = function () {
        if (conn !== room.pc) return;
        mediaState();
        // The server notices too and says media_failed; only act if it cannot (socket up, no word).
        if (conn.connectionState === "failed" && joined && !offerPending) {
          setTimeout(function () { if (conn === room.pc && !offerPending) newOffer(); }, 3000);
        }
      };
      conn.createOffer().then(function (offer) {
        return conn.setLocalDescription(offer).then(function () {
          if (conn === room.pc) send({ type: "offer", sdp: conn.localDescription.sdp });
        });
      }).catch(function (err) { console.warn("offer", err); });
    }

    // A new offer on the same connection after our tracks changed (`renegotiate: true`):
    // the others see no one leave, our slots keep their halls. After media_failed a new
    // connection replaces it instead (newOffer).
    function renegotiate() {
      var conn = room.pc;
      if (!conn) return;
      if (offerPending) { renegotiateAgain = true; return; }
      offerPending = renegotiating = true;
      conn.createOffer().then(function (offer) {
        return conn.setLocalDescription(offer).then(function () {
          if (conn === room.pc) send({ type: "offer", sdp: conn.localDescription.sdp, renegotiate: true });
        });
      }).catch(function (err) {
        console.warn("renegotiate", err);
        if (conn === room.pc) offerPending = renegotiating = false;
      });
    }

    // Sharing the screen: a second video track on the same connection, kept across new
    // connections until stopped.
    function setScreen(track, stream) {
      var pc = room.pc;
      if (track) {
        if (screen || !pc) return false;
        screen = { stream: stream, track: track, transceiver: pc.addTransceiver(track, { direction: "sendonly", streams: [stream] }) };
        renegotiate();
        return true;
      }
      if (!screen) return false;
      var s = screen;
      screen = null;
      if (!pc || pc.getTransceivers().indexOf(s.transceiver) < 0) return true;
      try { pc.removeTrack(s.transceiver.sender); } catch (err) { console.warn("unshare", err); return true; }
      renegotiate();
      return true;
    }

    room.connect = function (stream) {
      if (room.ws || done) return;
      local = stream || null;
      connect();
    };
    room.on = function (type, fn) { (listeners[type] = listeners[type] || []).push(fn); };
    room.send = send;
    room.leave = function () {
      if (done) return;
      send({ type: "leave" });
      finish("left", "room.left");
    };
    room.renegotiate = renegotiate;
    room.setScreen = setScreen;
    room.receiverOf = function (mid) {
      if (!room.pc || mid === null) return null;
      var t = room.pc.getTransceivers().find(function (x) { return x.mid === mid; });
      return t ? t.receiver : null;
    };
    return room;
  };
})();
