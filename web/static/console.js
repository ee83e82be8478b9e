// The host console: phases, floor, hands queue, mute, spotlight, remove, lock, the
// monitoring grid's pages, the roll call, the readiness board and who speaks now
// (docs/protocol.md, "The chaired meeting"). Two transports, one view:
// - data-mode="room": inside the host hall's room page, over its protocol client (hn.room,
//   protocol.js); shown only when this page's hall is the meeting's host.
// - data-mode="http": the secretariat's /meetings/{id}/console, no media: POST actions to
//   /api/v1/meetings/{id}/live and GET its state and readiness every 2 s.
(function () {
  "use strict";
  var hn = window.hn, $ = hn.$, esc = hn.esc;
  var root = $("console");
  if (!root) return;
  var t = hn.texts("console-texts");
  var mode = root.dataset.mode, meetingId = root.dataset.meeting;
  var st = null, board = null, gridPage = null, names = new Map(), hostId = null;
  // The roll call last seen in progress: when the state drops it, it was ended.
  var lastRollCall = null, rollCallOver = false;
  var lastHtml = "";
  // The recording as last told (`recording`, or the live state's `recording` over HTTP),
  // and whether a start or stop was sent and not answered yet.
  var rec = null, recPending = false;

  function nameOf(id) { return names.get(id) || (t("con.hall") + " " + id); }
  // The hall speaking now (the server's active_speaker, known in room mode), or null.
  function speaker() { return mode === "room" && hn.room.speaker != null ? hn.room.speaker : null; }
  function note(text, bad) {
    var el = $("con-note");
    el.textContent = text || "";
    el.hidden = !text;
    el.className = bad ? "con-note bad" : "con-note";
  }

  // ---- sending a control ----
  function act(msg) {
    if (mode === "room") { hn.room.send(msg); return; }
    fetch("/api/v1/meetings/" + meetingId + "/live", {
      method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(msg),
    }).then(function (r) {
      if (r.ok) { note(""); poll(); return; }
      return r.json().catch(function () { return null; }).then(function (b) {
        note(refusal(b && b.error ? b.error.code : null), true);
      });
    }).catch(function () { note(t("con.offline"), true); });
  }

  // A refusal in words: the recording's own codes are explained, others named.
  function refusal(code) {
    var own = code ? t("con.err." + code) : null;
    if (own && own !== "con.err." + code) return own;
    return t("con.refused") + (code ? " (" + code + ")" : "");
  }
  function renderRecording() {
    var on = !!(rec && rec.on);
    var since = on && rec.since ? new Date(rec.since * 1000) : null;
    $("con-rec-state").textContent = on
      ? t("con.rec_on") + (since ? " " + t("con.rec_since") + " " + String(since.getHours()).padStart(2, "0") + ":" + String(since.getMinutes()).padStart(2, "0") : "")
      : t("con.rec_off");
    var b = $("recording-toggle");
    b.textContent = t(on ? "con.rec_stop" : "con.rec_start");
    b.setAttribute("aria-pressed", on ? "true" : "false");
    b.className = on ? "danger" : "";
    b.disabled = recPending || !st || st.phase === "ended";
  }

  // ---- the view ----
  function remaining() {
    if (!st || !st.floor || !st.floor.until) return "";
    var s = Math.max(0, Math.round(st.floor.until - Date.now() / 1000));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  function btn(action, id, label, extra) {
    return '<button type="button" data-act="' + action + '" data-id="' + (id == null ? "" : id) +
      '" data-k="' + action + "-" + id + '"' + (extra || "") + ">" + esc(label) + "</button>";
  }

  function render() {
    if (!st) { $("con-body").hidden = true; $("con-empty").hidden = false; return; }
    $("con-body").hidden = false;
    $("con-empty").hidden = true;
    $("con-phase").textContent = t("phase." + st.phase);
    root.dataset.phase = st.phase;
    ["test", "started", "ended"].forEach(function (p) {
      $("con-" + p).disabled = st.phase === "ended" || st.phase === p || (p === "test" && st.phase === "started");
    });
    $("con-lock").textContent = t(st.locked ? "con.unlock" : "con.lock");
    renderRecording();
    $("con-rollcall").textContent = t(st.roll_call ? "con.rollcall_again" : "con.rollcall");
    if (st.roll_call) rollCallOver = false;
    else if (lastRollCall) rollCallOver = true;
    lastRollCall = st.roll_call || null;
    $("con-rollcall-end").hidden = !st.roll_call;
    $("con-rc-over").hidden = !rollCallOver;
    // The floor and its time.
    var f = st.floor;
    $("con-floor").textContent = f ? nameOf(f.hall_id) : t("con.nobody");
    $("con-time").textContent = f && f.until ? t("con.remaining") + ": " + remaining() : "";
    $("con-take").hidden = !f;
    $("con-spot").textContent = st.spotlight ? nameOf(st.spotlight) : "—";
    var talking = speaker();
    $("con-speaker-line").hidden = talking === null;
    $("con-speaker").textContent = talking === null ? "" : nameOf(talking);
    // The hands queue, first raised first.
    var q = st.hands.map(function (id, i) {
      return '<li data-hall="' + id + '"><span class="con-n">' + (i + 1) + ".</span> <strong>" + esc(nameOf(id)) +
        "</strong> " + btn("give", id, t("con.give")) + " " + btn("lower", id, t("con.lower")) + "</li>";
    }).join("");
    $("con-hands").innerHTML = q || '<li class="sub">' + esc(t("con.no_hands")) + "</li>";
    $("con-hands-count").textContent = st.hands.length;
    // The monitoring grid's page (room mode).
    if (gridPage) {
      $("con-grid").hidden = false;
      $("con-page").textContent = t("con.page") + " " + (gridPage.page + 1) + "/" + Math.max(1, gridPage.pages);
      $("con-prev").disabled = gridPage.page <= 0;
      $("con-next").disabled = gridPage.page + 1 >= gridPage.pages;
    }
    renderBoard();
  }

  function renderBoard() {
    if (!board) return;
    // Guests (khách mời) are counted on their own, never as halls.
    // WHIP sources (a national conference, a presentation PC) likewise.
    var guests = board.guests || [], sources = board.sources || [];
    var sourcesIn = sources.filter(function (s) { return s.state !== "not_connected"; }).length;
    $("con-ready").textContent = board.connected + "/" + board.invited + " " + t("con.connected") +
      (guests.length ? " · " + board.guests_connected + " " + t("con.guests") : "") +
      (sources.length ? " · " + sourcesIn + " " + t("con.sources") : "");
    var d = (board.per_district || []).map(function (u) {
      return "<li>" + esc(u.unit) + ": <strong>" + u.connected + "/" + u.invited + "</strong></li>";
    }).join("");
    $("con-districts").innerHTML = d;
    var muted = new Set(st ? st.muted : []), removed = new Set(st ? st.removed : []);
    // Halls that are in come first (the board of 200+ halls is long); the order is kept otherwise.
    // Sources come first (the host puts them on the main picture); present guests follow
    // the halls that are in, before those that are not.
    var list = sources.map(function (s) { return Object.assign({ source: true }, s); })
      .concat((board.halls || []).filter(function (h) { return h.state !== "not_connected"; }))
      .concat(guests.map(function (g) { return Object.assign({ guest: true }, g); }))
      .concat((board.halls || []).filter(function (h) { return h.state === "not_connected"; }));
    var rows = list.map(function (h) {
      var id = h.hall_id, here = h.state !== "not_connected";
      // Link figures: the round trip whenever known ("RTT 42 ms"); for a poor link also
      // the loss each way (↑ what the hall sends, ↓ what it receives) and the jitter.
      var fig = h.rtt_ms == null ? [] : ["RTT " + h.rtt_ms + " ms"];
      if (h.state === "poor") {
        fig.push("↑" + Math.round((h.loss || 0) * 100) + "% ↓" + Math.round((h.loss_out || 0) * 100) + "%", "jitter " + (h.jitter_ms || 0) + " ms");
      }
      var link = fig.length ? " (" + fig.join(" · ") + ")" : "";
      var acts = "";
      if (removed.has(id)) acts = btn("readmit", id, t("con.readmit"));
      else if (here && id !== hostId) {
        acts = btn("give", id, t("con.give")) + btn(muted.has(id) ? "unmute" : "mute", id, t(muted.has(id) ? "con.unmute" : "con.mute")) +
          btn("spotlight", id, t("con.spotlight")) + btn("remove", id, t("con.remove"));
      }
      if (st && st.roll_call && id !== hostId && !h.guest && !h.source) acts += btn("mark_present", id, t("rc.present")) + btn("mark_absent", id, t("rc.absent"));
      var talking = id === speaker();
      return '<tr data-hall="' + id + '" class="hs-' + h.state + (talking ? " speaking" : "") + (h.guest ? " guest" : "") + (h.source ? " source" : "") + '"><td>' + esc(h.name) +
        (id === hostId ? " · " + esc(t("con.host")) : "") + (h.guest ? ' · <span class="guest-mark">' + esc(t("con.guest")) + "</span>" : "") +
        (h.source ? ' · <span class="guest-mark">' + esc(t("con.source")) + "</span>" : "") +
        '</td><td class="hs">' + esc(t("hs." + h.state)) + esc(link) + (muted.has(id) && here ? " · " + esc(t("con.muted")) : "") +
        (talking ? ' · <strong class="talking">' + esc(t("con.speaking")) + "</strong>" : "") +
        '</td><td class="rc">' + (h.roll_call ? esc(t("rc." + h.roll_call)) : "") + '</td><td class="num">' + (h.people == null ? "" : h.people) +
        '</td><td class="acts">' + acts + "</td></tr>";
    }).join("");
    if (rows === lastHtml) return;
    // Keep the keyboard where it was when the board is redrawn.
    var focus = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.k : null;
    lastHtml = rows;
    $("con-halls").innerHTML = rows;
    if (focus) { var el = root.querySelector('[data-k="' + focus + '"]'); if (el) el.focus(); }
  }

  function limitSecs() {
    var m = parseFloat($("con-limit").value);
    return m > 0 ? Math.round(m * 60) : undefined;
  }

  root.addEventListener("click", function (e) {
    var b = e.target.closest("button");
    if (!b || !root.contains(b)) return;
    var id = b.dataset.id ? Number(b.dataset.id) : null;
    switch (b.dataset.act || b.id) {
      case "con-test": return act({ type: "set_phase", phase: "test" });
      case "con-started": return act({ type: "set_phase", phase: "started" });
      case "con-ended":
        if (!window.confirm(t("con.end_confirm"))) return;
        return act({ type: "set_phase", phase: "ended" });
      case "con-take": return act({ type: "take_floor" });
      case "con-muteall": return act({ type: "mute_all" });
      case "con-lock": return act({ type: "lock", locked: !(st && st.locked) });
      case "con-rollcall": return act({ type: "start_roll_call" });
      case "con-rollcall-end": return act({ type: "end_roll_call" });
      case "con-unspot": return act({ type: "spotlight", hall_id: null });
      case "recording-toggle":
        if (rec && rec.on && !window.confirm(t("con.rec_stop_confirm"))) return;
        recPending = true;
        renderRecording();
        // Enabled again by the answer: `recording`, a refusal, or (HTTP) the next state.
        setTimeout(function () { recPending = false; if (st) renderRecording(); }, 5000);
        return act({ type: rec && rec.on ? "stop_recording" : "start_recording" });
      case "con-prev": return act({ type: "grid_page", page: Math.max(0, gridPage.page - 1) });
      case "con-next": return act({ type: "grid_page", page: gridPage.page + 1 });
      case "give": return act({ type: "give_floor", hall_id: id, speaking_limit_secs: limitSecs() });
      case "lower": return act({ type: "lower_hand", hall_id: id });
      case "mute": return act({ type: "mute", hall_id: id, muted: true });
      case "unmute": return act({ type: "mute", hall_id: id, muted: false });
      case "spotlight": return act({ type: "spotlight", hall_id: id });
      case "remove":
        if (!window.confirm(t("con.remove_confirm") + " " + nameOf(id) + "?")) return;
        return act({ type: "remove", hall_id: id });
      case "readmit": return act({ type: "readmit", hall_id: id });
      case "mark_present": return act({ type: "mark_roll_call", hall_id: id, status: "present" });
      case "mark_absent": return act({ type: "mark_roll_call", hall_id: id, status: "absent" });
    }
  });

  function learn(b) {
    if (b) (b.halls || []).concat(b.guests || []).forEach(function (h) { names.set(h.hall_id, h.name); });
  }

  // ---- room mode: the host hall's own page ----
  if (mode === "room") {
    hn.room.on("*", function (m) {
      switch (m.type) {
        case "welcome":
          hostId = m.meeting.host_hall_id;
          root.hidden = m.hall.id !== hostId;
          document.body.classList.toggle("is-host", !root.hidden);
          if (root.hidden) return;
          m.participants.forEach(function (p) { names.set(p.hall_id, p.name); });
          st = m.state;
          rec = null; // a recording running is told right after
          act({ type: "readiness" });
          break;
        case "meeting_state": st = m; break;
        case "floor": if (st) st.floor = m.hall_id == null ? null : { hall_id: m.hall_id, until: m.until }; break;
        case "grid": gridPage = m; break;
        case "recording":
          rec = m;
          recPending = false;
          if (m.code) note(refusal(m.code) + (m.detail ? " (" + m.detail + ")" : ""), true);
          break;
        case "readiness": board = m; learn(m); break;
        case "participant_joined": names.set(m.hall_id, m.name); break;
        case "active_speaker": case "participant_left": break;
        case "error":
          if (/^(forbidden|unknown_hall|already_recording|not_recording|recording_unavailable|recording_failed)$/.test(m.code)) note(refusal(m.code), true);
          if (/recording/.test(m.code) && recPending) { recPending = false; if (st) renderRecording(); }
          return;
        default: return;
      }
      if (!root.hidden) render();
    });
  } else {
    // ---- http mode: the secretariat's console page ----
    hostId = Number(root.dataset.host);
    var poll = function () {
      fetch("/api/v1/meetings/" + meetingId + "/live", { credentials: "same-origin", headers: { accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (b) { st = b.state; board = b.readiness; rec = b.recording || null; recPending = false; learn(board); render(); })
        .catch(function () { note(t("con.offline"), true); });
    };
    poll();
    setInterval(poll, 2000);
  }
  setInterval(function () { if (st && st.floor && st.floor.until) $("con-time").textContent = t("con.remaining") + ": " + remaining(); }, 1000);
})();
