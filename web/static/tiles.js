// The room page's tiles: one per hall the server shows in this page's receive slots (the
// host large on the stage, the others in the grid), labelled with the hall's name and
// whether it is the host, holds the floor or is speaking now; the audio slots play
// through hidden <audio> elements. Draws what the protocol client (protocol.js) knows.
(function () {
  "use strict";
  var hn = window.hn;

  /** The view of `room` (hn.roomClient) in the page's #stage, #grid and #audio. */
  hn.tileView = function (room, t) {
    var $ = hn.$;
    var stage = $("stage"), grid = $("grid"), audioBox = $("audio");
    var tiles = new Map();  // hall id -> {el, video, label, slot, track}
    var audios = new Map(); // slot id -> <audio>

    function newTile(hallId) {
      var tile = { el: document.createElement("figure"), video: document.createElement("video"), label: document.createElement("figcaption"), slot: null, track: null };
      tile.el.className = "tile";
      tile.video.autoplay = true;
      tile.video.muted = true; // sound comes from the audio slots
      tile.video.playsInline = true;
      tile.el.appendChild(tile.video);
      tile.el.appendChild(tile.label);
      tile.el.dataset.hall = hallId;
      tiles.set(hallId, tile);
      return tile;
    }

    /** What a hall's caption says: host, name, floor, speaking, no picture. */
    function caption(hallId, hasVideo) {
      var host = room.meeting ? room.meeting.host_hall_id : null;
      // A guest (khách mời) has a negative id, a WHIP source (nguồn phát) is marked in the
      // roster: their tiles say so.
      var kind = hallId < 0 ? t("room.guest") + ": " : room.sources.has(hallId) ? t("room.source") + ": " : "";
      return (hallId === host ? t("room.host") + ": " : "") + kind + room.halls.get(hallId) +
        (hallId === room.floor ? " · " + t("room.floor") : "") +
        (hallId === room.speaker ? " · " + t("room.speaking") : "") +
        (hasVideo ? "" : " · " + t("room.no_video"));
    }

    function render() {
      // One tile per hall shown in a slot: its video slot if any, else an audio-only tile.
      var shown = new Map();
      room.slots.forEach(function (s, id) {
        if (s.hallId === null || !room.halls.has(s.hallId)) return;
        var cur = shown.get(s.hallId);
        if (!cur || (s.kind === "video" && cur.kind !== "video")) shown.set(s.hallId, { slot: id, kind: s.kind });
      });
      tiles.forEach(function (tile, hallId) {
        if (!shown.has(hallId)) { tile.el.remove(); tiles.delete(hallId); }
      });
      var host = room.meeting ? room.meeting.host_hall_id : null;
      var me = room.me ? room.me.id : null;
      shown.forEach(function (want, hallId) {
        var tile = tiles.get(hallId) || newTile(hallId);
        var receiver = want.kind === "video" ? room.receiverOf(room.slots.get(want.slot).mid) : null;
        var track = receiver ? receiver.track : null;
        if (tile.track !== track) {
          tile.video.srcObject = track ? new MediaStream([track]) : null;
          tile.track = track;
        }
        tile.slot = want.slot;
        tile.el.classList.toggle("no-video", !track);
        tile.el.classList.toggle("speaking", hallId === room.speaker);
        tile.label.textContent = caption(hallId, !!track);
        // Large: the host; on the host's own page, the hall holding the floor.
        var large = hallId === host || (me === host && hallId === room.floor);
        var parent = large ? stage : grid;
        if (tile.el.parentNode !== parent) parent.appendChild(tile.el);
      });
      room.slots.forEach(function (s, id) {
        if (s.kind !== "audio") return;
        var el = audios.get(id);
        var receiver = room.receiverOf(s.mid);
        if (!el) { el = document.createElement("audio"); el.autoplay = true; audioBox.appendChild(el); audios.set(id, el); }
        var track = receiver ? receiver.track : null;
        if (!el.srcObject || el.srcObject.getTracks()[0] !== track) el.srcObject = track ? new MediaStream([track]) : null;
      });
      // Who speaks now, in the room's bar (also when no tile shows that hall), and on
      // this hall's own picture when it is this hall.
      var speaking = room.speaker !== null && room.halls.has(room.speaker);
      $("speaker").hidden = !speaking;
      $("speaker").textContent = speaking ? t("room.speaking") + ": " + room.halls.get(room.speaker) : "";
      $("self-tile").classList.toggle("speaking", speaking && room.speaker === me);
    }

    /** The halls shown in slots: [{hallId, name, slot, kind}], one entry per slot. */
    function shownSlots() {
      var out = [];
      room.slots.forEach(function (s, id) {
        if (s.hallId !== null && room.halls.has(s.hallId)) out.push({ hallId: s.hallId, name: room.halls.get(s.hallId), slot: id, kind: s.kind });
      });
      return out;
    }

    return { render: render, count: function () { return tiles.size; }, shown: shownSlots };
  };
})();
