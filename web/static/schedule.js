// The scheduling form on /meetings/new: live invite count (POST /api/v1/scope/preview),
// the levels offered on the meeting's date (GET /api/v1/units/{id}/levels), root-unit search, halls added or left out by hand, and submission to POST /api/v1/meetings
// with field errors (422) and conflicts (409, "schedule anyway" with a reason).
(function () {
  "use strict";
  var $ = window.hn.$;
  var form = $("schedule-form");
  if (!form) return;
  var T = window.hn.texts("texts").all;
  var include = [];
  var exclude = [];
  var previewSeq = 0;
  var previewTimer = null;

  function hallName(id) {
    var opt = form.querySelector('#include-select option[value="' + id + '"]');
    return opt ? opt.textContent : String(id);
  }
  function levels() {
    return Array.prototype.map.call(
      form.querySelectorAll('input[name="level"]:checked'), function (c) { return c.value; });
  }
  function scope() {
    return {
      root_unit_id: Number($("root-id").value),
      levels: levels(),
      include_halls: include.slice(),
      exclude_halls: exclude.slice()
    };
  }
  function startValue() {
    return $("start-now").checked ? "now" : $("starts_at").value;
  }

  // --- live count ------------------------------------------------------------------
  function setCount(n, detail) {
    $("invite-count").textContent = String(n);
    $("invite-levels").textContent = detail || "";
  }
  function preview() {
    var mine = ++previewSeq;
    var s = scope();
    if (!s.levels.length && !s.include_halls.length) { setCount(0, T["js.no_levels"]); return; }
    var body = { scope: s, host_hall_id: Number($("host").value) || null };
    if (startValue()) body.starts_at = startValue();
    fetch("/api/v1/scope/preview", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (d) { return { ok: r.ok, d: d }; }); })
      .then(function (res) {
        if (mine !== previewSeq) return;
        if (!res.ok) {
          var e = res.d.error || {};
          setCount(0, e.code === "level_not_on_date" ? T["js.level_gone"] : (e.message || ""));
          return;
        }
        var parts = ["province", "district", "commune", "country"].filter(function (l) {
          return res.d.per_level[l];
        }).map(function (l) { return T["level." + l] + ": " + res.d.per_level[l]; });
        setCount(res.d.total, parts.join(" · "));
      }).catch(function () {});
  }
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 150);
  }

  // --- levels offered on the meeting's date ------------------------------------------
  // The tree changes with its dates (no districts after 1 July 2025): the picker shows
  // only the levels with units under the root on that date, with their counts, and moves
  // the root to the unit with its code in that date's tree.
  var LEVELS = ["country", "province", "district", "commune"];
  var tiersSeq = 0;
  var tiersTimer = null;
  function meetingDate() {
    if ($("start-now").checked) return null; // today, as the server reckons it
    var v = $("starts_at").value;
    return /^\d{4}-\d{2}-\d{2}/.test(v) ? v.slice(0, 10) : null;
  }
  var tiersDate = meetingDate();
  function vnDate(d) {
    return d.slice(8, 10) + "/" + d.slice(5, 7) + "/" + d.slice(0, 4);
  }
  function showTiers(list) {
    LEVELS.forEach(function (l) {
      var label = $("tier-" + l);
      if (!label) return;
      var t = (list || []).filter(function (x) { return x.level === l; })[0];
      label.hidden = !t;
      if (!t) $("level-" + l).checked = false;
      $("tier-count-" + l).textContent = t
        ? "(" + t.units + " " + T["sched.units"] + " · " + t.halls + " " + T["sched.halls"] + ")"
        : "";
    });
  }
  function loadTiers() {
    var root = $("root-id").value;
    if (!root) { schedulePreview(); return; }
    var mine = ++tiersSeq;
    var date = meetingDate();
    var url = "/api/v1/units/" + encodeURIComponent(root) + "/levels" + (date ? "?date=" + date : "");
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, d: d }; }); })
      .then(function (res) {
        if (mine !== tiersSeq) return;
        if (!res.ok) {
          showTiers([]);
          $("tiers-note").textContent = T["js.root_gone"];
        } else {
          if (String(res.d.unit.id) !== String(root)) {
            $("root-id").value = res.d.unit.id;
            $("root-name").textContent = res.d.unit.name;
          }
          showTiers(res.d.levels);
          $("tiers-note").textContent = T["js.tiers_on"] + " " + vnDate(res.d.date);
        }
        schedulePreview();
      }).catch(function () {});
  }
  function dateMaybeChanged() {
    var d = meetingDate();
    if (d === tiersDate) { schedulePreview(); return; }
    tiersDate = d;
    clearTimeout(tiersTimer);
    tiersTimer = setTimeout(loadTiers, 150);
  }

  // --- halls by hand ---------------------------------------------------------------
  function renderChips(listId, ids) {
    var ul = $(listId);
    ul.textContent = "";
    ids.forEach(function (id) {
      var li = document.createElement("li");
      li.textContent = hallName(id);
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = T["js.remove"];
      b.setAttribute("aria-label", T["js.remove"] + " " + hallName(id));
      b.addEventListener("click", function () {
        ids.splice(ids.indexOf(id), 1);
        renderChips(listId, ids);
        schedulePreview();
      });
      li.appendChild(b);
      ul.appendChild(li);
    });
  }
  function addTo(ids, other, selectId, listId, otherListId) {
    var id = Number($(selectId).value);
    if (!id || ids.indexOf(id) >= 0) return;
    ids.push(id);
    var i = other.indexOf(id);
    if (i >= 0) { other.splice(i, 1); renderChips(otherListId, other); }
    renderChips(listId, ids);
    schedulePreview();
  }
  $("include-add").addEventListener("click", function () {
    addTo(include, exclude, "include-select", "include-list", "exclude-list");
  });
  $("exclude-add").addEventListener("click", function () {
    addTo(exclude, include, "exclude-select", "exclude-list", "include-list");
  });

  // --- root unit search ------------------------------------------------------------
  var searchTimer = null;
  var searchSeq = 0;
  $("root-search").addEventListener("input", function () {
    clearTimeout(searchTimer);
    var input = this;
    searchTimer = setTimeout(function () {
      var q = input.value.trim();
      var list = $("root-results");
      var mine = ++searchSeq;
      if (!q) { list.textContent = ""; return; }
      var url = "/api/v1/units/search?limit=10&q=" + encodeURIComponent(q);
      if (meetingDate()) url += "&date=" + meetingDate();
      if (input.dataset.within) url += "&within=" + encodeURIComponent(input.dataset.within);
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { units: [] }; })
        .then(function (d) {
          if (mine !== searchSeq) return;
          list.textContent = "";
          if (!d.units.length) {
            var none = document.createElement("li");
            none.className = "sub";
            none.textContent = T["js.no_results"];
            list.appendChild(none);
          }
          d.units.forEach(function (u) {
            var li = document.createElement("li");
            var b = document.createElement("button");
            b.type = "button";
            b.textContent = u.name + " (" + (T["level." + u.level] || u.level) + ")";
            b.addEventListener("click", function () {
              $("root-id").value = u.id;
              $("root-name").textContent = u.name;
              list.textContent = "";
              input.value = "";
              loadTiers();
            });
            li.appendChild(b);
            list.appendChild(li);
          });
        }).catch(function () {});
    }, 200);
  });

  // --- time and recurrence -----------------------------------------------------------
  $("start-now").addEventListener("change", function () {
    $("starts_at").disabled = this.checked;
    if (this.checked) $("kind").value = "sudden";
    dateMaybeChanged();
  });
  form.querySelectorAll('input[name="end_mode"]').forEach(function (r) {
    r.addEventListener("change", function () {
      var byEnd = form.querySelector('input[name="end_mode"]:checked').value === "end";
      $("end-box").hidden = !byEnd;
      $("duration-box").hidden = byEnd;
    });
  });
  $("recurrence-mode").addEventListener("change", function () {
    $("weekly-box").hidden = this.value !== "weekly";
    $("rrule-box").hidden = this.value !== "rrule";
  });
  function recurrence() {
    var mode = $("recurrence-mode").value;
    if (mode === "weekly") return "FREQ=WEEKLY;BYDAY=" + $("rec-day").value + ";COUNT=" + $("rec-count").value;
    if (mode === "rrule") return $("rec-rule").value.trim() || null;
    return null;
  }

  form.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t.name === "level" || t.id === "host") schedulePreview();
    if (t.id === "starts_at") dateMaybeChanged();
  });
  $("starts_at").addEventListener("input", dateMaybeChanged);

  // --- submit ----------------------------------------------------------------------
  function clearErrors() {
    form.querySelectorAll(".field-error").forEach(function (p) { p.hidden = true; p.textContent = ""; });
    $("form-error").hidden = true;
  }
  function showField(field, message) {
    var p = form.querySelector('[data-error-for="' + field + '"]');
    var text = T["field." + field] || message;
    if (!p) { generalError(text + (message ? " (" + message + ")" : "")); return; }
    p.textContent = text;
    p.title = message || "";
    p.hidden = false;
  }
  function generalError(text) {
    $("form-error").textContent = text;
    $("form-error").hidden = false;
  }
  function body(reason) {
    var b = {
      title: $("title").value,
      description: $("description").value,
      kind: $("kind").value,
      host_hall_id: Number($("host").value),
      starts_at: startValue(),
      scope: scope(),
      recurrence: recurrence()
    };
    if (form.querySelector('input[name="end_mode"]:checked').value === "end") b.ends_at = $("ends_at").value;
    else b.duration_minutes = Number($("duration").value);
    if (reason) b.override_reason = reason;
    return b;
  }
  // "2026-11-30T08:00:00+07:00" → "08:00 30/11/2026", as the pages write times.
  function vnTime(s) {
    return s.slice(11, 16) + " " + s.slice(8, 10) + "/" + s.slice(5, 7) + "/" + s.slice(0, 4);
  }
  function showConflicts(list) {
    var ul = $("conflict-list");
    ul.textContent = "";
    list.forEach(function (c) {
      var li = document.createElement("li");
      var strong = document.createElement("strong");
      strong.textContent = c.title;
      li.appendChild(strong);
      var when = vnTime(c.starts_at_local) + " – " + vnTime(c.ends_at_local);
      li.appendChild(document.createTextNode(" — " + when + " — " + c.halls + " " + T["js.halls"]));
      ul.appendChild(li);
    });
    $("conflicts").hidden = false;
    $("override-reason").focus();
  }
  function submit(reason) {
    clearErrors();
    var button = $("submit");
    button.disabled = true;
    var label = button.textContent;
    button.textContent = T["js.saving"];
    fetch("/api/v1/meetings", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body(reason))
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (d) { return { status: r.status, d: d }; });
    }).then(function (res) {
      var err = res.d.error || {};
      if (res.status === 200 && res.d.meetings && res.d.meetings.length) {
        window.location.href = "/meetings/" + res.d.meetings[0].id;
        return;
      }
      if (res.status === 422 && err.code === "level_not_on_date") {
        showField("scope.levels", err.message);
        var p = form.querySelector('[data-error-for="scope.levels"]');
        if (p) p.textContent = T["js.level_gone"];
      } else if (res.status === 422 && err.fields) {
        Object.keys(err.fields).forEach(function (f) { showField(f, err.fields[f]); });
        var first = form.querySelector(".field-error:not([hidden])");
        if (first) first.scrollIntoView({ block: "center" });
      } else if (res.status === 409 && err.conflicts) {
        showConflicts(err.conflicts);
      } else if (res.status === 401) {
        generalError(T["js.session_over"]);
      } else if (res.status === 403) {
        generalError(T["js.forbidden"]);
      } else {
        generalError(T["js.failed"] + (err.message ? " (" + err.message + ")" : ""));
      }
    }).catch(function () {
      generalError(T["js.failed"]);
    }).finally(function () {
      button.disabled = false;
      button.textContent = label;
    });
  }
  form.addEventListener("submit", function (ev) { ev.preventDefault(); submit(null); });
  $("override-submit").addEventListener("click", function () {
    var reason = $("override-reason").value.trim();
    if (!reason) {
      $("override-error").textContent = T["js.reason_needed"];
      $("override-error").hidden = false;
      $("override-reason").focus();
      return;
    }
    $("override-error").hidden = true;
    submit(reason);
  });

  loadTiers();
})();
