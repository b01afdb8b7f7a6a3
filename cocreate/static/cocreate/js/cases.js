// Pages of the cases app. No inline scripts (the CSP forbids them): the figures arrive in a
// json_script block and the charts find their part through data- attributes. Without this
// script (or ECharts) the tables below each chart still show every figure.
(function () {
  "use strict";

  var BAR_COLOURS = {
    registered: "#6c757d",
    dispatched: "#0d6efd",
    closed: "#198754",
    overdue: "#dc3545",
  };
  var LINE_COLOURS = ["#6f42c1", "#fd7e14", "#20c997", "#d63384", "#0dcaf0", "#795548"];

  function percentLabel(value) {
    return value === null || value === undefined ? "—" : value + "%";
  }

  // Lines shown at first (the others one click away in the legend): six lines over four bars
  // are hard to read on a phone.
  var FIRST_LINES = { response: true, satisfaction: true, on_time: true };

  // The period: volumes as bars (left axis), the six rates as lines in % (right axis).
  function periodOption(data) {
    var selected = {};
    data.lines.forEach(function (s) {
      selected[s.name] = FIRST_LINES[s.key] === true;
    });
    return {
      animation: false,
      tooltip: {
        trigger: "axis",
        valueFormatter: function (value) {
          return value === null || value === undefined ? "—" : value;
        },
      },
      legend: { top: 0, type: "scroll", selected: selected },
      grid: { left: 8, right: 8, bottom: 8, top: 56, containLabel: true },
      xAxis: { type: "category", data: data.labels, axisLabel: { hideOverlap: true } },
      yAxis: [
        { type: "value", minInterval: 1, name: "件" },
        { type: "value", min: 0, max: 100, name: "%", splitLine: { show: false } },
      ],
      series: data.bars
        .map(function (s) {
          return { name: s.name, type: "bar", data: s.data, itemStyle: { color: BAR_COLOURS[s.key] } };
        })
        .concat(
          data.lines.map(function (s, i) {
            return {
              name: s.name,
              type: "line",
              yAxisIndex: 1,
              connectNulls: false,
              data: s.data,
              itemStyle: { color: LINE_COLOURS[i % LINE_COLOURS.length] },
              tooltip: { valueFormatter: percentLabel },
            };
          })
        ),
    };
  }

  // A category, region, unit or channel: one row of grouped bars per group (volumes), the
  // chart growing with the list.
  function groupOption(data) {
    return {
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 16, bottom: 8, top: 32, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: data.labels, inverse: true },
      series: data.bars.map(function (s) {
        return { name: s.name, type: "bar", data: s.data, itemStyle: { color: BAR_COLOURS[s.key] } };
      }),
    };
  }

  function setupChart(element) {
    var source = document.getElementById(element.getAttribute("data-source"));
    if (!source || typeof window.echarts === "undefined") {
      return;
    }
    var all = JSON.parse(source.textContent);
    var key = element.getAttribute("data-key");
    var data = all[key];
    if (!data || !data.labels.length) {
      element.hidden = true;
      return;
    }
    var isPeriod = key === "period";
    // Height set through the CSSOM, which the CSP allows (no inline style attribute).
    element.style.height = (isPeriod ? 320 : Math.max(200, data.labels.length * 40 + 60)) + "px";
    var chart = window.echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(isPeriod ? periodOption(data) : groupOption(data));
    element.setAttribute("data-chart-ready", "true");
    window.addEventListener("resize", function () {
      chart.resize();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-chart=case-breakdown]").forEach(setupChart);
  });
})();
