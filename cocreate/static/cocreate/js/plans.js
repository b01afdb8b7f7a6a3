// Pages of the plans app. No inline scripts (the CSP forbids them): data arrives through
// json_script blocks and data- attributes.
(function () {
  "use strict";

  // Report form: show only the fields of the chosen kind (percent / indicator / activity).
  // Without this script every field shows, and the server still checks what belongs to which kind.
  function setupReportForm(form) {
    var radios = form.querySelectorAll("input[name=kind]");
    function update() {
      var checked = form.querySelector("input[name=kind]:checked");
      var kind = checked ? checked.value : "";
      form.querySelectorAll("[data-kinds]").forEach(function (block) {
        var kinds = block.getAttribute("data-kinds").split(" ");
        block.hidden = kind !== "" && kinds.indexOf(kind) === -1;
      });
    }
    radios.forEach(function (radio) {
      radio.addEventListener("change", update);
    });
    update();
  }

  // Dashboard: lights by unit as a stacked bar (ECharts from vendor/echarts).
  var LIGHT_COLOURS = {
    green: "#198754",
    yellow: "#ffc107",
    red: "#dc3545",
    blue: "#0d6efd",
    done: "#6c757d",
    not_started: "#ced4da",
  };

  function setupChart(element) {
    var source = document.getElementById(element.getAttribute("data-source"));
    if (!source || typeof window.echarts === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    if (!data.categories.length) {
      element.hidden = true;
      return;
    }
    // One bar per unit: the chart grows with the list (set through CSSOM, which the CSP allows).
    element.style.height = Math.max(240, data.categories.length * 32 + 80) + "px";
    var chart = window.echarts.init(element, null, { renderer: "canvas" });
    element.setAttribute("data-chart-ready", "true");
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 16, bottom: 8, top: 40, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: data.categories, inverse: true },
      series: data.series.map(function (s) {
        return {
          name: s.name,
          type: "bar",
          stack: "lights",
          data: s.data,
          itemStyle: { color: LIGHT_COLOURS[s.light] || "#adb5bd" },
          emphasis: { focus: "series" },
        };
      }),
    });
    window.addEventListener("resize", function () {
      chart.resize();
    });
  }

  function setupTrend(element) {
    var source = document.getElementById(element.getAttribute("data-source"));
    if (!source || typeof window.echarts === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    element.style.height = "220px";
    var chart = window.echarts.init(element, null, { renderer: "canvas" });
    element.setAttribute("data-chart-ready", "true");
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      grid: { left: 8, right: 16, bottom: 8, top: 16, containLabel: true },
      xAxis: { type: "category", data: data.months },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "line", data: data.completed, itemStyle: { color: LIGHT_COLOURS.green } }],
    });
    window.addEventListener("resize", function () {
      chart.resize();
    });
  }

  // Plan page: a fanned-out task's village rows. The first click loads them under the task's
  // row (htmx, hx-trigger="click once"); later clicks hide and show the loaded rows.
  function toggleChildren(event) {
    var toggle = event.target.closest(".cc-toggle");
    if (!toggle) {
      return;
    }
    var rows = document.querySelectorAll('tr[data-child-of="' + toggle.getAttribute("data-task") + '"]');
    var open = toggle.getAttribute("aria-expanded") !== "true";
    rows.forEach(function (row) {
      row.hidden = !open;
    });
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("click", toggleChildren);

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("cc-report-form");
    if (form) {
      setupReportForm(form);
    }
    document.querySelectorAll("[data-chart=lights-by-unit]").forEach(setupChart);
    document.querySelectorAll("[data-chart=completed-by-month]").forEach(setupTrend);
  });
})();
