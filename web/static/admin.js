// Unit import on /admin/units: sends the chosen CSV file as the request body and shows the result.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form) return;
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var file = document.getElementById("csv-file").files[0];
    if (!file) return;
    var params = new URLSearchParams();
    var from = document.getElementById("valid-from").value;
    var to = document.getElementById("valid-to").value;
    if (from) params.set("valid_from", from);
    if (to) params.set("valid_to", to);
    var busy = document.getElementById("import-busy");
    busy.hidden = false;
    fetch("/admin/units/import?" + params.toString(), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "text/csv" },
      body: file
    })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("import-result");
        var target = document.getElementById("import-result");
        target.innerHTML = fresh ? fresh.innerHTML : "";
        var counts = doc.querySelector("table.list");
        var old = document.querySelector("table.list");
        if (counts && old) old.innerHTML = counts.innerHTML;
      })
      .catch(function () {
        document.getElementById("import-result").textContent = "⚠";
      })
      .finally(function () { busy.hidden = true; });
  });
})();
