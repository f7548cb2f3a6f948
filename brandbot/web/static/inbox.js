// The inbox list refreshes itself when the open handoffs change (server-sent events).
// The server renders the list (escaped there); this only swaps it in. While someone is
// typing an answer the swap waits, so no half-written answer is lost.
(function () {
  "use strict";
  var box = document.getElementById("handoffs");
  if (!box || !window.EventSource) { return; }
  var busy = false;
  function typing() {
    var el = document.activeElement;
    return el && box.contains(el) && el.tagName === "TEXTAREA" && el.value.trim() !== "";
  }
  function refresh() {
    if (busy) { return; }
    if (typing()) { setTimeout(refresh, 2000); return; }
    busy = true;
    fetch(box.getAttribute("data-live"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) { box.innerHTML = html; box.setAttribute("data-updated", String(Date.now())); }
      })
      .finally(function () { busy = false; });
  }
  new EventSource("/inbox/stream").addEventListener("handoffs", refresh);
})();
