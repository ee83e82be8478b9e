// A hall's own controls in the room (every hall but the host): raise and lower its hand,
// report how many people are in the room, answer the roll call, and see its speaking
// time while it holds the floor. Listens to the room's protocol client (hn.room, protocol.js).
(function () {
  "use strict";
  var hn = window.hn, $ = hn.$, room = hn.room;
  var root = $("hall-controls");
  if (!root || !room) return;
  var t = hn.texts("console-texts");
  var me = null, hand = false, rollCall = null, answered = null, until = null, holds = false;
  // A guest (khách mời, a negative id) raises its hand like a hall but takes no part in
  // the roll call or the headcount: those are the halls'.
  var guest = false;
  var send = room.send;

  function render() {
    $("hall-hand").textContent = t(hand ? "hall.lower" : "hall.raise");
    $("hall-hand").setAttribute("aria-pressed", hand ? "true" : "false");
    $("hall-hand-state").textContent = hand ? t("hall.hand_up") : "";
    $("hall-rollcall").hidden = !rollCall || guest;
    $("hall-headcount").hidden = guest;
    $("hall-present").hidden = !!(rollCall && answered === rollCall);
    $("hall-rc-state").textContent = rollCall && answered === rollCall ? t("hall.answered") : t("hall.rollcall_now");
    $("hall-floor").hidden = !holds;
    tick();
  }
  function tick() {
    if (!holds) return;
    if (!until) { $("hall-floor").textContent = t("hall.you_speak"); return; }
    var s = Math.max(0, Math.round(until - Date.now() / 1000));
    $("hall-floor").textContent = t("hall.you_speak") + " — " + t("con.remaining") + " " +
      Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  setInterval(tick, 1000);

  function applyState(s) {
    hand = s.hands.indexOf(me) >= 0;
    rollCall = s.roll_call || null;
    holds = !!(s.floor && s.floor.hall_id === me);
    until = holds ? s.floor.until : null;
  }

  room.on("*", function (m) {
    switch (m.type) {
      case "welcome":
        me = m.hall.id;
        guest = me < 0;
        root.hidden = me === m.meeting.host_hall_id;
        if (m.state) applyState(m.state);
        break;
      case "meeting_state": applyState(m); break;
      case "floor": holds = m.hall_id === me; until = holds ? m.until : null; break;
      case "roll_call": rollCall = m.id; break;
      default: return;
    }
    render();
  });

  $("hall-hand").addEventListener("click", function () {
    send({ type: hand ? "lower_hand" : "raise_hand" });
  });
  $("hall-present").addEventListener("click", function () {
    send({ type: "roll_call_answer", status: "present" });
    answered = rollCall;
    render();
  });
  $("hall-headcount").addEventListener("submit", function (e) {
    e.preventDefault();
    var n = parseInt($("hall-people").value, 10);
    if (!(n >= 0 && n <= 10000)) { $("hall-people-state").textContent = t("hall.people_bad"); return; }
    send({ type: "headcount", people: n });
    $("hall-people-state").textContent = t("hall.people_sent") + ": " + n;
  });
})();
