// Shared by every page script (loaded first, by base.html): `hn.$` (an element by id),
// `hn.texts` (a page's words from its JSON block), `hn.esc` (text made safe for HTML),
// and one behaviour for every page: a read-only `input.copy` selects its text on focus.
(function () {
  "use strict";
  var hn = window.hn = window.hn || {};
  hn.$ = function (id) { return document.getElementById(id); };
  // The words a template put in <script type="application/json" id="…">, as a lookup
  // function that falls back to the key itself; `t.all` is the object.
  hn.texts = function (id) {
    var el = document.getElementById(id);
    var all = el ? JSON.parse(el.textContent) : {};
    var t = function (k) { return all[k] || k; };
    t.all = all;
    return t;
  };
  var ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  hn.esc = function (s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) { return ENTITIES[c]; });
  };
  // (Templates carry no inline scripts or handlers, so a CSP without unsafe-inline holds.)
  document.addEventListener("focusin", function (e) {
    if (e.target.matches && e.target.matches("input.copy")) e.target.select();
  });
})();
