// benchd pages: give charts their points (sent beside their option as JSON), keep them sized
// to their container, filter and sort result tables. Tables and links work without it.
(function () {
  "use strict";
  // Chart data sent beside a chart's option (<script type="application/json" class="chart-data"
  // data-chart=ID>): the part of the option benchd builds itself (series with their marks and
  // bands, the y-axis in its display unit, a commit axis's categories), merged into the chart.
  document.querySelectorAll("script.chart-data").forEach(function (el) {
    var node = document.getElementById(el.getAttribute("data-chart"));
    var chart = node && window.echarts && window.echarts.getInstanceByDom(node);
    if (!chart) { return; }
    chart.setOption(JSON.parse(el.textContent).option);
  });

  // Dark mode: ECharts' default theme draws dark text and light grid lines; give every chart
  // the page's colours (and again when the system's scheme changes).
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)");
  function theme() {
    if (!window.echarts) { return; }
    var on = dark && dark.matches;
    var fg = on ? "#e3e6ea" : "#1d2127", muted = on ? "#98a2ad" : "#5b6470", grid = on ? "#2c323a" : "#e3e6ea";
    var axis = { axisLine: { lineStyle: { color: muted } }, axisLabel: { color: muted }, nameTextStyle: { color: muted },
      splitLine: { lineStyle: { color: grid } } };
    document.querySelectorAll(".chart [_echarts_instance_]").forEach(function (el) {
      var c = window.echarts.getInstanceByDom(el);
      if (!c) { return; }
      c.setOption({
        textStyle: { color: fg }, legend: { textStyle: { color: fg }, pageTextStyle: { color: fg }, inactiveColor: muted },
        xAxis: axis, yAxis: axis,
        tooltip: { backgroundColor: on ? "#1a1f25" : "#ffffff", borderColor: grid, textStyle: { color: fg } }
      });
    });
  }
  theme();
  if (dark && dark.addEventListener) { dark.addEventListener("change", theme); }

  window.addEventListener("resize", function () {
    if (!window.echarts) { return; }
    document.querySelectorAll(".chart [_echarts_instance_]").forEach(function (el) {
      var c = window.echarts.getInstanceByDom(el);
      if (c) { c.resize(); }
    });
  });

  var filter = document.getElementById("filter");
  var flagged = document.getElementById("flagged");
  var status = ""; // a verdict count pressed: show only that status
  function apply() {
    var q = filter ? filter.value.toLowerCase() : "";
    var only = flagged && flagged.checked;
    document.querySelectorAll("table.results tbody tr:not(.group)").forEach(function (tr) {
      var a = tr.querySelector("a.bench");
      var name = a ? a.textContent : ((tr.querySelector("td") || {}).textContent || "");
      var st = tr.getAttribute("data-status");
      var show = name.toLowerCase().indexOf(q) !== -1 && (!only || st === "regressed" || st === "warning" || st === "improved") &&
        (status === "" || st === status);
      tr.hidden = !show;
    });
  }
  if (filter) { filter.addEventListener("input", apply); }
  if (flagged) { flagged.addEventListener("change", apply); }
  document.querySelectorAll("button.count").forEach(function (btn) {
    btn.setAttribute("aria-pressed", "false");
    btn.addEventListener("click", function () {
      var on = btn.getAttribute("aria-pressed") !== "true";
      document.querySelectorAll("button.count").forEach(function (b) { b.setAttribute("aria-pressed", "false"); });
      btn.setAttribute("aria-pressed", on ? "true" : "false");
      status = on ? btn.getAttribute("data-status") : "";
      apply();
    });
  });

  // Sorting: by a cell's raw value (data-v) when it has one, numbers when both cells parse as
  // numbers, text otherwise.
  document.querySelectorAll("table.results thead th").forEach(function (th, col) {
    th.style.cursor = "pointer";
    th.addEventListener("click", function () {
      var tbody = th.closest("table").querySelector("tbody");
      var dir = th.getAttribute("data-dir") === "asc" ? -1 : 1;
      th.setAttribute("data-dir", dir === 1 ? "asc" : "desc");
      // Family headers only make sense in name order: drop them once the table is re-sorted.
      tbody.querySelectorAll("tr.group").forEach(function (g) { g.remove(); });
      var rows = Array.prototype.slice.call(tbody.rows);
      rows.sort(function (a, b) {
        var ca = a.cells[col], cb = b.cells[col];
        var x = ca.getAttribute("data-v") || ca.textContent.trim(), y = cb.getAttribute("data-v") || cb.textContent.trim();
        var nx = parseFloat(x), ny = parseFloat(y);
        if (!isNaN(nx) && !isNaN(ny)) { return dir * (nx - ny); }
        return dir * x.localeCompare(y);
      });
      rows.forEach(function (r) { tbody.appendChild(r); });
    });
  });
})();

// Alerts page: acknowledge through the API with the token typed in (kept in sessionStorage).
(function () {
  "use strict";
  var tok = document.getElementById("token");
  if (!tok) { return; }
  tok.value = sessionStorage.getItem("benchd_token") || "";
  tok.addEventListener("change", function () { sessionStorage.setItem("benchd_token", tok.value); });
  document.querySelectorAll("button.ack").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var url = "/api/v1/projects/" + encodeURIComponent(btn.dataset.project) + "/alerts/" + encodeURIComponent(btn.dataset.id) + "/acknowledge";
      btn.disabled = true;
      fetch(url, { method: "POST", headers: { "Authorization": "Bearer " + tok.value } })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (res) {
          var cell = btn.closest("tr").querySelector("td.status");
          if (res.ok) {
            cell.textContent = "acknowledged";
            btn.remove();
          } else {
            cell.textContent = (res.body.error && res.body.error.message) || "failed";
            btn.disabled = false;
          }
        });
    });
  });
})();

// "Run now": queue a run through the API with the token typed in (kept in sessionStorage).
(function () {
  "use strict";
  document.querySelectorAll("form.runnow").forEach(function (form) {
    var tok = form.querySelector("input.token"), out = form.querySelector(".runnow-result");
    tok.value = sessionStorage.getItem("benchd_token") || "";
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      sessionStorage.setItem("benchd_token", tok.value);
      var q = "?branch=" + encodeURIComponent(form.dataset.branch) + "&suite=" + encodeURIComponent(form.dataset.suite);
      fetch("/api/v1/projects/" + encodeURIComponent(form.dataset.project) + "/jobs" + q, { method: "POST", headers: { "Authorization": "Bearer " + tok.value } })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (res) {
          if (res.ok) {
            out.textContent = "queued job " + res.body.job_id;
            setTimeout(function () { window.location.reload(); }, 800);
          } else {
            out.textContent = (res.body.error && res.body.error.message) || "failed";
          }
        });
    });
  });
})();
