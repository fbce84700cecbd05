// logad serve's live dashboard: plain JavaScript, requests to this origin only. The alarm feed
// long-polls GET /v1/alarms?after=<last>&wait=25; the other panels are HTML the server renders
// again (GET /dashboard/part/NAME) every few seconds; an alarm opens as GET /dashboard/alarms/ID;
// the feedback buttons POST /v1/alarms/ID/feedback and show the verdict the service recorded.
// With a bearer token the page asks for it once, keeps it in sessionStorage (this tab only) and
// sends it as the Authorization header of every request.
(function () {
  "use strict";
  var root = document.getElementById("dash");
  if (!root) { return; }
  var KEY = "logad-serve-token";
  var needsToken = root.dataset.auth === "token";
  var feed = document.getElementById("feed");
  var detail = document.getElementById("detail");
  var state = document.getElementById("live-state");
  var msg = document.getElementById("live-msg");
  var started = false, last = 0, openId = null, timers = [], polling = null;

  function token() { try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; } }
  function say(ok, text) {
    state.textContent = ok ? "live" : "not connected";
    state.className = "live-dot " + (ok ? "ok" : "bad");
    msg.textContent = text || "";
  }
  function api(path, opts) {
    opts = opts || {};
    var h = opts.headers || {};
    var t = token();
    if (t) { h["Authorization"] = "Bearer " + t; }
    opts.headers = h;
    opts.credentials = "omit";
    opts.cache = "no-store";
    return fetch(path, opts).then(function (r) {
      if (r.status === 401) { refused(); throw new Error("unauthorized"); }
      if (!r.ok) { throw new Error(path.split("?")[0] + " answered " + r.status); }
      return r;
    });
  }

  // ------------------------------------------------------------------ the token
  function showLogin(text) {
    var form = document.getElementById("login");
    if (!form) { return; }
    form.hidden = false;
    document.getElementById("panels").hidden = true;
    document.getElementById("login-msg").textContent = text || "";
    say(false, "waiting for the token");
    document.getElementById("token-input").focus();
  }
  function refused() {
    try { sessionStorage.removeItem(KEY); } catch (e) { /* private mode */ }
    stop();
    showLogin("The service refused that token.");
  }
  if (needsToken) {
    document.getElementById("login").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var v = document.getElementById("token-input").value.trim();
      if (!v) { return; }
      try { sessionStorage.setItem(KEY, v); } catch (e) { /* kept for this page only */ }
      document.getElementById("token-input").value = "";
      document.getElementById("login").hidden = true;
      start();
    });
    var out = document.getElementById("logout");
    out.addEventListener("click", function () {
      try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
      location.reload();
    });
  }

  // ------------------------------------------------------------------ panels
  function loadPart(sec) {
    return api("/dashboard/part/" + sec.dataset.part).then(function (r) { return r.text(); }).then(function (html) {
      var filter = sec.querySelector("input.filter");
      var q = filter ? filter.value : "";
      var scroll = sec.querySelector(".scroll");
      var top = scroll ? scroll.scrollTop : 0;
      sec.innerHTML = html;
      if (q) {
        var f = sec.querySelector("input.filter");
        if (f) { f.value = q; applyFilter(f); }
      }
      if (scroll && sec.querySelector(".scroll")) { sec.querySelector(".scroll").scrollTop = top; }
      sec.dataset.loaded = "1";
      say(true, "");
    });
  }
  function busy(sec) {  // leave a panel alone while someone types in it
    var a = document.activeElement;
    return a && sec.contains(a) && a.tagName === "INPUT";
  }
  function schedule(sec) {
    var every = (+sec.dataset.every || 10) * 1000;
    timers.push(setInterval(function () {
      if (document.hidden || busy(sec)) { return; }
      loadPart(sec).catch(failed);
    }, every));
  }
  function failed(e) { if (e && e.message !== "unauthorized") { say(false, String(e.message || e)); } }
  function applyFilter(input) {
    var table = document.getElementById(input.dataset.table);
    if (!table || !table.tBodies[0]) { return; }
    var q = input.value.toLowerCase();
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      r.style.display = !q || r.textContent.toLowerCase().indexOf(q) >= 0 ? "" : "none";
    });
  }
  document.addEventListener("input", function (ev) {
    if (ev.target.id === "tpl-filter") { applyFilter(ev.target); }
  });

  // ------------------------------------------------------------------ the alarm feed
  function fmtTime(t) {
    if (t === null || t === undefined || !isFinite(t)) { return "-"; }
    return new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }
  function fmtScore(s) { return typeof s === "number" ? (Math.abs(s) >= 1000 ? s.toFixed(0) : s.toPrecision(3)) : String(s); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function row(a) {
    var newTpl = a.kind === "new_template";
    var li = el("li", "alarm-row fresh" + (newTpl ? " new-tpl" : ""));
    li.dataset.id = a.id;
    li.tabIndex = 0;
    li.appendChild(el("span", "tag " + (newTpl ? "new" : "alarm"), newTpl ? "new template" : "alarm"));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(el("b", "title", a.sequence_id || "new template"));
    var bits = ["#" + a.id];
    if (!newTpl && a.score !== null && a.score !== undefined) { bits.push("score " + fmtScore(a.score)); }
    bits.push((a.n_lines || 0).toLocaleString("en") + " lines", fmtTime(a.start_time));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(el("span", "small muted", bits.join(" · ")));
    var v = a.feedback ? a.feedback.verdict : "";
    li.appendChild(el("span", "verdict-tag" + (v ? " " + v : ""), v ? v.replace("_", " ") : ""));
    return li;
  }
  function lastInFeed() {
    var m = 0;
    feed.querySelectorAll("li.alarm-row").forEach(function (li) { m = Math.max(m, +li.dataset.id); });
    return m;
  }
  function poll() {
    if (!started) { return; }
    var ctl = new AbortController();
    polling = ctl;
    var guard = setTimeout(function () { ctl.abort(); }, 40000);
    api("/v1/alarms?after=" + last + "&wait=25&limit=100", {signal: ctl.signal}).then(function (r) { return r.json(); })
      .then(function (j) {
        clearTimeout(guard);
        var got = j.alarms || [];
        got.forEach(function (a) {
          if (feed.querySelector('li.alarm-row[data-id="' + a.id + '"]')) { return; }
          feed.insertBefore(row(a), feed.firstChild);
          last = Math.max(last, a.id);
        });
        while (feed.children.length > 200) { feed.removeChild(feed.lastChild); }
        if (got.length) {
          document.getElementById("feed-empty").hidden = true;
          root.dataset.alarms = String(feed.children.length);
          soon(document.getElementById("time"));
        }
        say(true, "");
        setTimeout(poll, got.length ? 0 : 200);
      })
      .catch(function (e) {
        clearTimeout(guard);
        if (!started) { return; }
        failed(e);
        setTimeout(poll, 3000);
      });
  }
  var pending = {};
  function soon(sec) {  // a panel drawn again shortly after new alarms (once per second at most)
    if (!sec || pending[sec.id]) { return; }
    pending[sec.id] = setTimeout(function () { pending[sec.id] = null; loadPart(sec).catch(failed); }, 1000);
  }

  // ------------------------------------------------------------------ one alarm
  function openAlarm(id) {
    openId = id;
    feed.querySelectorAll("li.alarm-row").forEach(function (li) { li.classList.toggle("selected", +li.dataset.id === id); });
    return api("/dashboard/alarms/" + id).then(function (r) { return r.text(); }).then(function (html) {
      if (openId !== id) { return; }
      detail.innerHTML = html;
      detail.dataset.open = String(id);
    }).catch(failed);
  }
  feed.addEventListener("click", function (ev) {
    var li = ev.target.closest("li.alarm-row");
    if (li) { openAlarm(+li.dataset.id); }
  });
  feed.addEventListener("keydown", function (ev) {
    var li = ev.target.closest("li.alarm-row");
    if (li && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); openAlarm(+li.dataset.id); }
  });
  function fromHash() {
    var m = /^#alarm-(\d+)$/.exec(location.hash);
    if (m && started) { openAlarm(+m[1]); document.getElementById("alarms").scrollIntoView(); }
  }
  window.addEventListener("hashchange", fromHash);
  detail.addEventListener("click", function (ev) {
    var b = ev.target.closest("button.fb");
    if (!b) { return; }
    var box = b.closest(".feedback");
    var id = +box.dataset.id;
    var verdict = b.dataset.verdict;
    box.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
    api("/v1/alarms/" + id + "/feedback", {method: "POST", headers: {"Content-Type": "application/json"},
                                           body: JSON.stringify({verdict: verdict})})
      .then(function (r) { return r.json(); })
      .then(function (a) {
        var fb = a.feedback || {};
        var span = box.querySelector(".verdict");
        span.textContent = "recorded: ";
        span.appendChild(el("b", "", String(fb.verdict || "").replace("_", " ")));
        span.appendChild(document.createTextNode(" at " + fmtTime(fb.at)));
        span.dataset.verdict = fb.verdict || "";
        var li = feed.querySelector('li.alarm-row[data-id="' + id + '"] .verdict-tag');
        if (li) { li.className = "verdict-tag " + fb.verdict; li.textContent = String(fb.verdict).replace("_", " "); }
        soon(document.getElementById("status"));
      })
      .catch(failed)
      .then(function () { box.querySelectorAll("button").forEach(function (x) { x.disabled = false; }); });
  });

  // ------------------------------------------------------------------ start, stop
  function start() {
    if (started) { return; }
    started = true;
    document.getElementById("panels").hidden = false;
    var out = document.getElementById("logout");
    if (out) { out.hidden = false; }
    var parts = Array.prototype.slice.call(document.querySelectorAll("section.part"));
    var first = root.dataset.rendered === "1" ? Promise.resolve() : Promise.all(
      parts.map(loadPart).concat([api("/dashboard/part/feed").then(function (r) { return r.text(); })
        .then(function (html) { feed.innerHTML = html; })]));
    first.then(function () {
      if (!started) { return; }
      last = lastInFeed();
      document.getElementById("feed-empty").hidden = feed.children.length > 0;
      parts.forEach(schedule);
      say(true, "");
      root.dataset.live = "1";
      poll();
      fromHash();
    }).catch(failed);
  }
  function stop() {
    started = false;
    timers.forEach(clearInterval);
    timers = [];
    if (polling) { polling.abort(); }
    root.dataset.live = "";
  }
  window.addEventListener("pagehide", stop);
  if (needsToken && !token()) { showLogin(""); } else { start(); }
})();
