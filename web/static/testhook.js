// The room page's debug hook, window.hoinghi: what the browser tests (tests/browser) and a
// technician's console read from the protocol client (hn.room) and the tiles
// (hn.roomView) — state, the last server messages, slots and getStats figures. Nothing
// in the page depends on it.
(function () {
  "use strict";
  var room = window.hn && window.hn.room, view = window.hn && window.hn.roomView;
  if (!room) return;
  // The last server messages as "type[:code][:reason]", oldest first.
  var events = [];
  // Every participant_joined / participant_left since the page opened: {type, hallId, reason}.
  var presence = [];
  // Whether the meeting is being recorded, as the page was last told.
  var recording = false;
  room.on("*", function (m) {
    events.push(m.type + (m.code ? ":" + m.code : "") + (m.reason ? ":" + m.reason : ""));
    if (events.length > 200) events.shift();
    if (/^participant_/.test(m.type)) presence.push({ type: m.type, hallId: m.hall_id, reason: m.reason });
    if (m.type === "welcome") recording = false;
    else if (m.type === "recording") recording = !!m.on;
  });

  /** getStats of one receiver: the inbound-rtp figures the tests judge media by. */
  function inbound(t, receiver) {
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
        } else t.totalAudioEnergy = r.totalAudioEnergy;
      });
      return t;
    });
  }

  window.hoinghi = {
    get state() { return room.state; },
    get pc() { return room.pc; },
    get ws() { return room.ws; },
    get simulcast() { return room.simulcast; },
    get recording() { return recording; },
    events: events,
    presence: presence,
    renegotiate: room.renegotiate,
    hallId: function () { return room.me ? room.me.id : null; },
    muted: function () { return room.muted; },
    // Which of our sending encodings are active, by kind: {video: [true, false, false], audio: [true]}.
    sending: function () {
      var out = {};
      if (room.pc) room.pc.getSenders().forEach(function (x) {
        if (x.track && !(x.track.kind in out)) out[x.track.kind] = x.getParameters().encodings.map(function (e) { return e.active !== false; });
      });
      return out;
    },
    halls: function () { return Array.from(room.halls, function (h) { return { hallId: h[0], name: h[1] }; }); },
    // The halls in this page's receive slots: [{hallId, name, slot, kind}].
    tiles: function () { return view.shown(); },
    // tiles() with each slot's inbound-rtp figures.
    stats: function () {
      return Promise.all(view.shown().map(function (t) {
        var receiver = room.receiverOf(room.slots.get(t.slot).mid);
        return receiver ? inbound(t, receiver) : t;
      }));
    },
    // What this page sends: [{kind, rid, packetsSent, framesEncoded, frameWidth}].
    sendStats: function () {
      if (!room.pc) return Promise.resolve([]);
      return room.pc.getStats().then(function (report) {
        var out = [];
        report.forEach(function (r) {
          if (r.type === "outbound-rtp") out.push({ kind: r.kind, rid: r.rid || null, packetsSent: r.packetsSent, framesEncoded: r.framesEncoded, frameWidth: r.frameWidth });
        });
        return out;
      });
    },
  };
})();
