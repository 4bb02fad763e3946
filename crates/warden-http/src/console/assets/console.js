// Warden console: the little script written for it. Every page works without it; it only
// shows times in the viewer's own zone, ticks deadline countdowns and makes "select all" work.
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
})();
