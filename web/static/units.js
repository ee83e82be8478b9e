// Live unit search on /units: asks /api/v1/units/search as one types (diacritics optional).
(function () {
  "use strict";
  var input = document.getElementById("unit-q");
  var list = document.getElementById("unit-results");
  if (!input || !list) return;
  var timer = null;
  var seq = 0;
  function show(units) {
    list.textContent = "";
    if (!units.length) {
      var li = document.createElement("li");
      li.className = "sub";
      li.textContent = list.dataset.none || "";
      list.appendChild(li);
      return;
    }
    units.forEach(function (u) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "/units?id=" + encodeURIComponent(u.id);
      a.textContent = u.name;
      var sub = document.createElement("span");
      sub.className = "sub";
      sub.textContent = " · " + u.code;
      li.appendChild(a);
      li.appendChild(sub);
      list.appendChild(li);
    });
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = input.value.trim();
      var mine = ++seq;
      if (!q) { list.textContent = ""; return; }
      var url = "/api/v1/units/search?limit=20&q=" + encodeURIComponent(q);
      if (input.dataset.within) url += "&within=" + encodeURIComponent(input.dataset.within);
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { units: [] }; })
        .then(function (data) { if (mine === seq) show(data.units || []); })
        .catch(function () {});
    }, 200);
  });
})();
