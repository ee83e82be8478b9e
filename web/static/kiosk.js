// The hall kiosk (/kiosk): a big clock, the hall's next meeting, and joining by itself.
// Polls /api/v1/my/meetings every 30 s; once a meeting's join window is open (30 minutes
// before its start until its end) the page goes into the room (/j/{token}?kiosk=1). In
// that room this script watches the protocol client (hn.room) and comes back here
// (?done={id}) when the meeting ends.
(function () {
  "use strict";
  var hn = window.hn, $ = hn.$;
  // ---- in the room opened by the kiosk: back to the kiosk page once the meeting is over ----
  if (hn.room && /[?&]kiosk=1/.test(location.search)) {
    hn.room.on("state", function (s) {
      if (s !== "ended") return;
      var meeting = hn.room.meeting;
      setTimeout(function () { location.href = "/kiosk" + (meeting ? "?done=" + meeting.id : ""); }, 4000);
    });
    return;
  }
  var root = $("kiosk");
  if (!root) return;
  var T = hn.texts("kiosk-texts").all;
  var OPENS_BEFORE = 30 * 60 * 1000, ENTER_AFTER = 3000;
  var TZ = "Asia/Ho_Chi_Minh";
  var lang = document.documentElement.lang === "en" ? "en-GB" : "vi-VN";
  // Meetings this kiosk has already been through (the room sends it back with ?done=).
  var done = JSON.parse(sessionStorage.getItem("hoinghi.kiosk.done") || "[]");
  var doneNow = /[?&]done=(\d+)/.exec(location.search);
  if (doneNow && done.indexOf(Number(doneNow[1])) < 0) done.push(Number(doneNow[1]));
  sessionStorage.setItem("hoinghi.kiosk.done", JSON.stringify(done));
  var entering = null;

  function fmt(date, opts) {
    opts.timeZone = TZ;
    try { return new Intl.DateTimeFormat(lang, opts).format(date); } catch (e) { return date.toISOString(); }
  }
  function clock() {
    var now = new Date();
    $("kiosk-clock").textContent = fmt(now, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
    $("kiosk-date").textContent = fmt(now, { weekday: "long", day: "2-digit", month: "2-digit", year: "numeric" });
  }
  function setState(s, text) {
    root.dataset.state = s;
    $("kiosk-state").textContent = text;
  }

  function show(list) {
    var now = Date.now();
    var open = list.filter(function (m) {
      return m.status !== "cancelled" && Date.parse(m.ends_at) > now && done.indexOf(m.id) < 0;
    }).sort(function (a, b) { return Date.parse(a.starts_at) - Date.parse(b.starts_at); });
    var next = open[0] || null;
    $("kiosk-next").hidden = !next;
    if (!next) { setState("idle", T["kiosk.none"]); return; }
    var starts = new Date(next.starts_at), ends = new Date(next.ends_at);
    $("kiosk-title").textContent = next.title;
    $("kiosk-when").textContent = fmt(starts, { hour: "2-digit", minute: "2-digit", hour12: false }) + " – " +
      fmt(ends, { hour: "2-digit", minute: "2-digit", hour12: false }) + " · " +
      fmt(starts, { weekday: "long", day: "2-digit", month: "2-digit", year: "numeric" });
    $("kiosk-host").textContent = next.host_hall ? next.host_hall.name : "";
    if (now >= starts.getTime() - OPENS_BEFORE && next.join_url) {
      setState("joining", T["kiosk.joining"]);
      if (!entering) {
        var url = new URL(next.join_url, location.href);
        entering = setTimeout(function () { location.href = url.pathname + "?kiosk=1"; }, ENTER_AFTER);
      }
    } else setState("waiting", T["kiosk.waiting"]);
  }

  function poll() {
    fetch("/api/v1/my/meetings", { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) { location.href = "/login?next=/kiosk"; return Promise.reject(401); }
        return r.ok ? r.json() : Promise.reject(r.status);
      })
      .then(function (b) { $("kiosk-offline").hidden = true; show(b.meetings || []); })
      .catch(function () { $("kiosk-offline").hidden = false; });
  }

  clock();
  setInterval(clock, 1000);
  poll();
  setInterval(poll, 30000);
  $("kiosk-full").addEventListener("click", function () {
    if (document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(function () {});
  });
})();
