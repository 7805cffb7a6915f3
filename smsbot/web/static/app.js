/* The staff pages' behaviour: live updates by polling, alerts (tab title, sound, desktop
 * notifications), keyboard shortcuts, bulk selection, the SMS counter, small conveniences.
 * Everything works without JavaScript too (forms post, pages reload); this only adds speed.
 * No inline scripts anywhere: the Content-Security-Policy allows only files from here. */
(function () {
  "use strict";

  var POLL_MS = 1000;          // new messages and delivery states show within about a second
  var HIDDEN_POLL_MS = 10000;  // a background tab asks less often
  var csrfToken = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return k in values ? values[k] : ""; });
  }

  /* --- SMS counter ------------------------------------------------------------------ */

  function setupCounter(textarea) {
    var output = document.getElementById(textarea.dataset.counter);
    if (!output || !window.SmsSegments) return;
    var warnOver = parseInt(output.dataset.warnOver || "0", 10);
    function update() {
      var text = SmsSegments.clean(textarea.value);
      var m = SmsSegments.measure(text);
      var segments = text ? m.segments : 0;  // nothing written costs nothing
      output.textContent = fill(output.dataset.template, {
        chars: Array.from(text).length, segments: segments, encoding: m.encoding
      });
      output.dataset.segments = segments;
      output.dataset.encoding = m.encoding;
      output.title = m.nonGsm.length && m.nonGsm.length < 5 ? "UCS-2: " + m.nonGsm.join(" ") : "";
      output.classList.toggle("warn", warnOver > 0 && m.segments > warnOver);
    }
    textarea.addEventListener("input", update);
    update();
  }

  /* --- live updates --------------------------------------------------------------- */

  function elementFrom(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }

  function reconcile(container, items, initial) {
    var active = document.activeElement, focusedRow = null;
    if (active && container.contains(active)) focusedRow = active.closest("[data-key]");
    var focusedKey = focusedRow ? focusedRow.dataset.key : null;
    var existing = new Map();
    Array.prototype.forEach.call(container.children, function (child) {
      if (child.dataset.key) existing.set(child.dataset.key, child);
    });
    var previous = null, added = 0;
    items.forEach(function (item) {
      var el = existing.get(item.key);
      existing.delete(item.key);
      if (!el || el._html !== item.html) {
        var fresh = elementFrom(item.html);
        fresh._html = item.html;
        // A redrawn row keeps what the user did to it: its tick, the j/k selection, the focus.
        var picked = el && el.querySelector("input.pick:checked");
        if (picked && fresh.querySelector("input.pick")) fresh.querySelector("input.pick").checked = true;
        if (el && el.classList.contains("selected")) fresh.classList.add("selected");
        if (!el && !initial) { fresh.classList.add("fresh"); added += 1; }
        if (el) el.replaceWith(fresh);
        el = fresh;
      }
      var wanted = previous ? previous.nextElementSibling : container.firstElementChild;
      if (wanted !== el) container.insertBefore(el, wanted);
      previous = el;
    });
    existing.forEach(function (el) { el.remove(); });
    if (focusedKey && !container.contains(document.activeElement)) {  // redrawn or moved: focus back
      var row = container.querySelector('[data-key="' + focusedKey + '"] a');
      if (row) row.focus();
    }
    countPicked();
    var empty = document.querySelector('[data-empty-for="' + container.dataset.list + '"]');
    if (empty) empty.hidden = items.length > 0;
    return added;
  }

  /* Redraw a live region without losing what the user is typing in it: values of its text
   * fields and the focus (with the cursor) are carried over to the new HTML. */
  function redrawKeepingInput(el, redraw) {
    var kept = {}, active = document.activeElement, focused = null, selection = null, open = [];
    el.querySelectorAll("details").forEach(function (d, i) { if (d.open) open.push(i); });
    el.querySelectorAll("textarea[name], input[name]:not([type=hidden]):not([type=checkbox]):not([type=radio])")
      .forEach(function (field) { if (field.value) kept[field.name] = field.value; });
    if (active && el.contains(active) && active.name) {
      focused = active.name;
      if (typeof active.selectionStart === "number") selection = [active.selectionStart, active.selectionEnd];
    }
    redraw();
    var details = el.querySelectorAll("details");
    open.forEach(function (i) { if (details[i]) details[i].open = true; });
    Object.keys(kept).forEach(function (name) {
      var field = el.querySelector('[name="' + name + '"]');
      if (field && !field.value) { field.value = kept[name]; field.dispatchEvent(new Event("input")); }
    });
    if (focused) {
      var field = el.querySelector('[name="' + focused + '"]');
      if (field) {
        field.focus();
        if (selection && field.setSelectionRange) field.setSelectionRange(selection[0], selection[1]);
      }
    }
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 120;
  }

  function showProblem(text) {
    var p = document.querySelector(".live-problem");
    if (!p) return;
    p.textContent = text || "";
    p.hidden = !text;
  }

  function setupLive(root, url) {
    var version = "", failures = 0, first = true, stopped = false;
    function apply(data) {
      if (data.alerts) alerts.update(data.alerts, first);
      if (!data.lists && !data.regions) { first = false; return; }
      var stick = nearBottom();
      Object.keys(data.regions || {}).forEach(function (name) {
        document.querySelectorAll('[data-region="' + name + '"]').forEach(function (el) {
          if (el._html === data.regions[name]) return;
          redrawKeepingInput(el, function () { el.innerHTML = data.regions[name]; wireUp(el); });
          el._html = data.regions[name];
        });
      });
      Object.keys(data.lists || {}).forEach(function (name) {
        var list = root.querySelector('[data-list="' + name + '"]');
        if (list) reconcile(list, data.lists[name], first);
      });
      if (stick && root.querySelector("[data-stick-bottom]")) window.scrollTo(0, document.documentElement.scrollHeight);
      if (data.unread && root.dataset.readUrl && document.visibilityState === "visible") {
        fetch(root.dataset.readUrl, { method: "POST", headers: { "X-CSRFToken": csrfToken }, credentials: "same-origin" });
      }
      wireUp(root);
      first = false;
    }
    function poll() {
      if (stopped) return;
      var sep = url.indexOf("?") >= 0 ? "&" : "?";
      fetch(url + sep + "v=" + encodeURIComponent(version), {
        headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store"
      }).then(function (response) {
        if (response.status === 401) {
          stopped = true;
          showProblem(document.body.dataset.signedOut);
          return null;
        }
        if (response.status === 204) {
          version = response.headers.get("X-Live-Version") || version;
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      }).then(function (data) {
        failures = 0;
        if (!stopped) showProblem("");
        if (data) { version = data.version; apply(data); }
      }).catch(function () {
        failures += 1;
        if (failures >= 3) showProblem(document.body.dataset.offline);
      }).finally(function () {
        if (stopped) return;
        var wait = document.visibilityState === "visible" ? POLL_MS : HIDDEN_POLL_MS;
        setTimeout(poll, Math.min(wait * Math.max(1, failures), 15000));
      });
    }
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") { version = version || ""; }
    });
    poll();
  }

  /* --- alerts: the tab title, and an opt-in sound and desktop notification ------------- */

  var alerts = (function () {
    var KEY = "smsbot.alerts", baseTitle = document.title, seen = null, unread = 0, audio = null;
    var toggle = document.querySelector("[data-alerts-toggle]");
    function enabled() { return localStorage.getItem(KEY) === "on"; }
    function show() {
      if (!toggle) return;
      toggle.setAttribute("aria-pressed", enabled() ? "true" : "false");
      toggle.textContent = enabled() ? toggle.dataset.on : toggle.dataset.off;
    }
    function sound(urgent) {
      try {
        audio = audio || new (window.AudioContext || window.webkitAudioContext)();
        if (audio.state === "suspended") audio.resume();
        [0, 0.25, urgent ? 0.5 : null].forEach(function (at, i) {
          if (at === null) return;
          var osc = audio.createOscillator(), gain = audio.createGain(), t = audio.currentTime + at;
          osc.frequency.value = urgent ? (i % 2 ? 660 : 880) : 740;
          gain.gain.setValueAtTime(0.2, t);
          gain.gain.exponentialRampToValueAtTime(0.001, t + 0.2);
          osc.connect(gain).connect(audio.destination);
          osc.start(t); osc.stop(t + 0.2);
        });
      } catch (e) { /* no audio here: the notification still shows */ }
    }
    function notify(urgent, count) {
      var b = document.body.dataset, signature = (urgent ? "e" : "m") + ":" + count + ":" + (seen || []).join(",");
      // Every open tab hears the same news; one of them speaks.
      if (localStorage.getItem("smsbot.alerted") === signature) return;
      localStorage.setItem("smsbot.alerted", signature);
      sound(urgent);
      if (window.Notification && Notification.permission === "granted") {
        new Notification(urgent ? b.alertEmergency : b.alertMessage, {
          body: fill(b.alertUnread || "{n}", { n: count }), tag: "smsbot-inbox", renotify: true,
          requireInteraction: urgent
        });
      }
    }
    if (toggle) {
      show();
      toggle.addEventListener("click", function () {
        if (enabled()) { localStorage.removeItem(KEY); show(); return; }
        localStorage.setItem(KEY, "on");
        show();
        sound(false);  // the click unlocks audio, and lets the user hear what an alert sounds like
        if (window.Notification && Notification.permission === "default") Notification.requestPermission();
      });
    }
    document.addEventListener("pointerdown", function () { if (audio && audio.state === "suspended") audio.resume(); });
    return {
      update: function (data, first) {
        var emergencies = data.emergencies || [];
        document.title = (data.unread ? "(" + data.unread + ") " : "") + (emergencies.length ? "⚠ " : "") + baseTitle;
        if (!first && seen !== null && enabled()) {
          var fresh = emergencies.some(function (id) { return seen.indexOf(id) < 0; });
          if (fresh) notify(true, data.unread);
          else if (data.unread > unread) notify(false, data.unread);
        }
        seen = emergencies;
        unread = data.unread;
      }
    };
  })();

  /* --- keyboard shortcuts (the ? key lists them) ---------------------------------------- */

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-list=conversations] > li, [data-list=tickets] > tr"));
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var at = all.findIndex(function (r) { return r.classList.contains("selected"); });
    var next = all[Math.max(0, Math.min(all.length - 1, at < 0 ? 0 : at + step))];
    all.forEach(function (r) { r.classList.remove("selected"); });
    next.classList.add("selected");
    var link = next.querySelector("a");
    if (link) link.focus();
  }

  function selected() { return document.querySelector(".selected[data-key]"); }

  function submitBulk(action) {
    var form = document.getElementById("bulk-form");
    if (!form) return false;
    var ticked = document.querySelectorAll("input.pick:checked");
    if (!ticked.length && selected()) {
      var pick = selected().querySelector("input.pick");
      if (pick) pick.checked = true;
    }
    var button = form.querySelector('button[name=action][value="' + action + '"]');
    if (!button || !document.querySelector("input.pick:checked")) return false;
    button.click();
    return true;
  }

  function setupShortcuts() {
    var dialog = document.getElementById("shortcuts");
    function help() { if (dialog && !dialog.open) dialog.showModal(); }
    document.querySelectorAll("[data-shortcuts-open]").forEach(function (b) { b.addEventListener("click", help); });
    document.addEventListener("keydown", function (ev) {
      var target = ev.target;
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && target.tagName === "TEXTAREA" && target.form) {
        ev.preventDefault();
        target.form.requestSubmit();
        return;
      }
      if (ev.key === "Escape" && typing(target)) { target.blur(); return; }
      if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(target) || (dialog && dialog.open)) return;
      var handled = true;
      switch (ev.key) {
        case "?": help(); break;
        case "j": move(1); break;
        case "k": move(-1); break;
        case "o": case "Enter":
          if (!selected() || ev.key === "Enter" && target.tagName === "A") { handled = false; break; }
          selected().querySelector("a").click(); break;
        case "x":
          var pick = selected() && selected().querySelector("input.pick");
          if (pick) { pick.checked = !pick.checked; countPicked(); } else handled = false;
          break;
        case "/":
          var search = document.querySelector("input[type=search]");
          if (search) { search.focus(); search.select(); }
          else {
            var inbox = document.querySelector("[data-testid=nav-inbox]");
            if (inbox) location.href = inbox.getAttribute("href") + "#search"; else handled = false;
          }
          break;
        case "r":
          var reply = document.getElementById("reply-body");
          if (reply && !reply.disabled) reply.focus(); else handled = false;
          break;
        case "e":
          var close = document.querySelector("form[data-shortcut-close]");
          if (close) close.requestSubmit(); else handled = submitBulk("close");
          break;
        case "u":
          var up = document.querySelector("[data-shortcut-up]");
          if (up) up.click(); else handled = false;
          break;
        default: handled = false;
      }
      if (handled) ev.preventDefault();
    });
    if (location.hash === "#search") {
      var box = document.querySelector("input[type=search]");
      if (box) box.focus();
    }
  }

  /* --- bulk selection ------------------------------------------------------------------ */

  function countPicked() {
    var output = document.querySelector("[data-picked]");
    if (!output) return;
    var n = document.querySelectorAll("input.pick:checked").length;
    output.textContent = fill(output.dataset.template, { n: n });
    var all = document.querySelector("[data-pick-all]"), boxes = document.querySelectorAll("input.pick");
    if (all) all.checked = boxes.length > 0 && n === boxes.length;
  }

  function setupBulk(form) {
    var all = form.querySelector("[data-pick-all]");
    if (all) all.addEventListener("change", function () {
      document.querySelectorAll("input.pick").forEach(function (b) { b.checked = all.checked; });
      countPicked();
    });
    document.addEventListener("change", function (ev) { if (ev.target.matches("input.pick")) countPicked(); });
    countPicked();
  }

  /* --- countdowns to ticket deadlines ------------------------------------------------ */

  function duration(ms) {
    var b = document.body.dataset, minutes = Math.floor(Math.abs(ms) / 60000);
    var d = Math.floor(minutes / 1440), h = Math.floor((minutes % 1440) / 60), m = minutes % 60;
    if (d) return fill(b.unitDays || "{d} d {h} h", { d: d, h: h });
    if (h) return fill(b.unitHours || "{h} h {m} min", { h: h, m: m });
    return fill(b.unitMinutes || "{m} min", { m: m });
  }

  function tickCountdowns() {
    var now = Date.now(), b = document.body.dataset;
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      if (el.dataset.stopped) return;
      var left = Date.parse(el.dataset.deadline) - now;
      el.textContent = left >= 0 ? fill(b.left || "{t} left", { t: duration(left) })
                                 : fill(b.overdue || "overdue by {t}", { t: duration(left) });
      el.classList.toggle("overdue", left < 0);
    });
  }

  /* --- small conveniences ----------------------------------------------------------- */

  function wireUp(scope) {
    scope.querySelectorAll("textarea[data-counter]:not([data-wired])").forEach(function (t) {
      t.dataset.wired = "1"; setupCounter(t);
    });
    scope.querySelectorAll("select[data-insert-into]:not([data-wired])").forEach(function (select) {
      select.dataset.wired = "1";
      select.addEventListener("change", function () {
        var target = document.getElementById(select.dataset.insertInto);
        if (!target || !select.value) return;
        target.value = target.value.trim() ? target.value.replace(/\s*$/, " ") + select.value : select.value;
        target.dispatchEvent(new Event("input"));
        target.focus();
        select.value = "";
      });
    });
    scope.querySelectorAll("form[data-autosubmit]:not([data-wired])").forEach(function (form) {
      form.dataset.wired = "1";
      form.querySelectorAll("select").forEach(function (s) {
        s.addEventListener("change", function () { form.submit(); });
      });
    });
    scope.querySelectorAll("form[data-once]:not([data-wired])").forEach(function (form) {
      form.dataset.wired = "1";
      form.addEventListener("submit", function () {
        setTimeout(function () {
          form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        }, 0);
      });
    });
    tickCountdowns();
  }

  function setupAudience(form) {
    var output = form.querySelector("[data-audience-count]");
    if (!output) return;
    function update() {
      var params = new URLSearchParams();
      form.querySelectorAll("input[name=audience]:checked, input[name=building]:checked").forEach(function (i) {
        params.append(i.name, i.value);
      });
      form.querySelector(".buildings").classList.toggle("disabled", params.get("audience") === "company");
      fetch(form.dataset.audienceUrl + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) output.textContent = fill(output.dataset.template, data); });
    }
    form.addEventListener("change", update);
    update();
  }

  // A destructive button asks first (deleting a canned reply, disabling a colleague).
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () {
    wireUp(document);
    var live = document.querySelectorAll("[data-live]");
    live.forEach(function (root) { setupLive(root, root.dataset.live); });
    if (!live.length && document.body.dataset.alertsUrl) setupLive(document.body, document.body.dataset.alertsUrl);
    document.querySelectorAll("form[data-bulk]").forEach(setupBulk);
    setupShortcuts();
    document.querySelectorAll("form[data-audience-url]").forEach(setupAudience);
    if (document.querySelector("[data-stick-bottom]")) window.scrollTo(0, document.documentElement.scrollHeight);
    setInterval(tickCountdowns, 30000);
  });
})();
