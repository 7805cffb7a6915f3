/* The staff pages' behaviour: live updates by polling, the SMS counter, small conveniences.
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
        if (!el && !initial) { fresh.classList.add("fresh"); added += 1; }
        if (el) el.replaceWith(fresh);
        el = fresh;
      }
      var wanted = previous ? previous.nextElementSibling : container.firstElementChild;
      if (wanted !== el) container.insertBefore(el, wanted);
      previous = el;
    });
    existing.forEach(function (el) { el.remove(); });
    var empty = document.querySelector('[data-empty-for="' + container.dataset.list + '"]');
    if (empty) empty.hidden = items.length > 0;
    return added;
  }

  /* Redraw a live region without losing what the user is typing in it: values of its text
   * fields and the focus (with the cursor) are carried over to the new HTML. */
  function redrawKeepingInput(el, redraw) {
    var kept = {}, active = document.activeElement, focused = null, selection = null;
    el.querySelectorAll("textarea[name], input[name]:not([type=hidden]):not([type=checkbox]):not([type=radio])")
      .forEach(function (field) { if (field.value) kept[field.name] = field.value; });
    if (active && el.contains(active) && active.name) {
      focused = active.name;
      if (typeof active.selectionStart === "number") selection = [active.selectionStart, active.selectionEnd];
    }
    redraw();
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

  function setupLive(root) {
    var url = root.dataset.live, version = "", failures = 0, first = true, stopped = false;
    function apply(data) {
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
        if (response.status === 204) return null;
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
    document.querySelectorAll("[data-live]").forEach(setupLive);
    document.querySelectorAll("form[data-audience-url]").forEach(setupAudience);
    if (document.querySelector("[data-stick-bottom]")) window.scrollTo(0, document.documentElement.scrollHeight);
    setInterval(tickCountdowns, 30000);
  });
})();
