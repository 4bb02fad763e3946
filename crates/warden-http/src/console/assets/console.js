// Warden console: the little script written for it. Every page works without it; it only
// shows times in the viewer's own zone, ticks deadline countdowns, makes "select all" work and
// refreshes an IP's traffic chart (DDOS-6) from the server's own SVG.
(function () {
  "use strict";
  // The words come from the page (the catalogues), never from this script.
  var body = document.body;
  var passed = body.getAttribute("data-passed") || "";
  var leftText = body.getAttribute("data-left") || "";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function zone(d) {
    var off = -d.getTimezoneOffset(), sign = off < 0 ? "-" : "+";
    off = Math.abs(off);
    return "UTC" + sign + pad(Math.floor(off / 60)) + ":" + pad(off % 60);
  }
  // The viewer's own zone, named, as the server names the provider's.
  function local(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + " " + zone(d);
  }
  function left(ms) {
    if (ms <= 0) { return passed; }
    var m = Math.floor(ms / 60000), d = Math.floor(m / 1440), h = Math.floor(m / 60) % 24;
    m = m % 60;
    return leftText.replace("{d}", d).replace("{h}", h).replace("{m}", m);
  }
  document.querySelectorAll("time[datetime]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) { t.title = t.textContent; t.textContent = local(d); }
  });
  // Countdowns tick from the server's "now" so that a test clock and a wrong PC clock agree.
  var started = Date.now();
  var timers = Array.prototype.slice.call(document.querySelectorAll("time.countdown[data-now]"));
  function tick() {
    timers.forEach(function (t) {
      var at = Date.parse(t.getAttribute("datetime"));
      var now = Date.parse(t.getAttribute("data-now")) + (Date.now() - started);
      var span = t.parentNode.querySelector(".left");
      if (span) { span.textContent = left(at - now); }
    });
  }
  if (timers.length) { tick(); setInterval(tick, 30000); }
  document.querySelectorAll("input.select-all").forEach(function (box) {
    box.addEventListener("change", function () {
      var form = box.form || document;
      form.querySelectorAll("input[type=checkbox][name=case]").forEach(function (c) { c.checked = box.checked; });
    });
  });
  // A figure with data-refresh holds a chart drawn on the server: every data-every seconds the
  // same SVG is fetched again (same origin, with the session cookie) and swapped in. A failed
  // fetch keeps the chart shown; a signed-out session stops the refresh.
  document.querySelectorAll("figure[data-refresh]").forEach(function (fig) {
    var src = fig.getAttribute("data-refresh");
    var every = parseInt(fig.getAttribute("data-every"), 10) || 10;
    if (!window.fetch || !window.DOMParser) { return; }
    var timer = setInterval(function () {
      fetch(src, { credentials: "same-origin", cache: "no-store", redirect: "error" })
        .then(function (r) {
          var type = r.headers.get("Content-Type") || "";
          if (!r.ok || type.indexOf("image/svg+xml") !== 0) {
            if (r.status === 401 || r.status === 403 || r.status === 404) { clearInterval(timer); }
            return null;
          }
          return r.text();
        })
        .then(function (text) {
          if (!text) { return; }
          var doc = new DOMParser().parseFromString(text, "image/svg+xml");
          var svg = doc.documentElement;
          var old = fig.querySelector("svg");
          if (!old || !svg || svg.nodeName.toLowerCase() !== "svg" || doc.querySelector("parsererror")) { return; }
          old.replaceWith(document.importNode(svg, true));
          fig.setAttribute("data-refreshed", String(Date.now()));
        })
        .catch(function () { clearInterval(timer); });
    }, every * 1000);
  });
})();
