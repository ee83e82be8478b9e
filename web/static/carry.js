// Carry-halls page (/admin/carry): sends an uploaded mapping as the body of the preview and
// the apply, keeps it to preview again after a hall or secretariat is placed, and lets each
// listed row pick any unit valid on the carry's date through /api/v1/units/search.
(function () {
  "use strict";
  var form = document.getElementById("carry-form");
  if (!form) return;
  var T = window.hn.texts("carry-texts");
  var kept = null;
  var busy = document.getElementById("carry-busy");

  function choice() {
    var c = form.querySelector("input[name=mapping]:checked");
    return c ? c.value : "shipped";
  }
  function day() { return document.getElementById("carry-on").value; }
  function status(html) { document.getElementById("carry-status").innerHTML = html; }

  // Puts the fresh page's status and result in place of ours.
  function swap(html, keepStatus) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    ["carry-status", "carry-result"].forEach(function (id) {
      if (id === "carry-status" && keepStatus) return;
      var fresh = doc.getElementById(id);
      document.getElementById(id).innerHTML = fresh ? fresh.innerHTML : "";
    });
  }

  function fail() {
    status('<p class="alert" role="alert">' + window.hn.esc(T("carry.js.failed")) + "</p>");
  }

  // POSTs the kept (or chosen) file to /admin/carry/{preview|apply}.
  function send(action, keepStatus) {
    var file = document.getElementById("carry-file").files[0] || kept;
    if (!file) {
      status('<p class="alert" role="alert">' + window.hn.esc(T("carry.js.need_file")) + "</p>");
      return Promise.resolve();
    }
    kept = file;
    var params = new URLSearchParams({ on: day(), mapping: "upload" });
    busy.hidden = false;
    return fetch("/admin/carry/" + action + "?" + params.toString(), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "text/csv" },
      body: file
    })
      .then(function (r) { return r.text(); })
      .then(function (html) { swap(html, keepStatus); })
      .catch(fail)
      .finally(function () { busy.hidden = true; });
  }

  form.addEventListener("submit", function (ev) {
    if (choice() !== "upload") return; // the shipped mapping: a plain GET shows the preview
    ev.preventDefault();
    kept = null;
    status("");
    send("preview");
  });

  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    if (choice() !== "upload" || !f.closest || !f.closest("#carry-result")) return;
    ev.preventDefault();
    if (f.id === "carry-apply") { status(""); send("apply"); return; }
    // Place a hall or a secretariat, then preview again with the same file.
    busy.hidden = false;
    fetch(f.getAttribute("action"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(f)).toString()
    })
      .then(function (r) { return r.text().then(function (html) { return { ok: r.ok, html: html }; }); })
      .then(function (res) {
        var doc = new DOMParser().parseFromString(res.html, "text/html");
        var fresh = doc.getElementById("carry-status");
        status(fresh ? fresh.innerHTML : "");
        if (res.ok) return send("preview", true);
      })
      .catch(fail)
      .finally(function () { busy.hidden = true; });
  });

  // Enter in a unit search looks the unit up; it never sends the row's form.
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && ev.target.classList && ev.target.classList.contains("unit-pick")) ev.preventDefault();
  });

  // The unit picker: found units are added to the row's list, the first one chosen.
  var timers = new WeakMap();
  var seq = 0;
  document.addEventListener("input", function (ev) {
    var input = ev.target;
    if (!input.classList || !input.classList.contains("unit-pick")) return;
    clearTimeout(timers.get(input));
    timers.set(input, setTimeout(function () {
      var q = input.value.trim();
      var select = input.parentNode.querySelector("select[name=unit_id]");
      var mine = ++seq;
      Array.prototype.slice.call(select.querySelectorAll("option[data-found]")).forEach(function (o) { o.remove(); });
      if (!q) return;
      var url = "/api/v1/units/search?limit=10&q=" + encodeURIComponent(q) + "&date=" + encodeURIComponent(input.dataset.date);
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { units: [] }; })
        .then(function (d) {
          if (mine !== seq) return;
          if (!d.units.length) {
            var none = document.createElement("option");
            none.disabled = true;
            none.dataset.found = "1";
            none.textContent = T("js.no_results");
            select.appendChild(none);
            return;
          }
          d.units.forEach(function (u, i) {
            // A candidate already in the list is chosen, not listed twice.
            if (!select.querySelector('option[value="' + u.id + '"]')) {
              var o = document.createElement("option");
              o.value = u.id;
              o.dataset.found = "1";
              o.textContent = u.name + " (" + u.code + ", " + T("level." + u.level) + ")";
              select.appendChild(o);
            }
            if (i === 0) select.value = String(u.id);
          });
        })
        .catch(function () {});
    }, 250));
  });
})();
