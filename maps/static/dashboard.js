// The dashboards' charts (geo_service/templates/dashboard.html), drawn with the vendored
// Apache ECharts from the figures the page carries in #dashboard-data; nothing is fetched.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var en = data.lang === "en";
  var figures = data.figures;
  var locale = en ? "EN" : "ZH";
  var charts = [];

  function t(zh, english) { return en ? english : zh; }

  function draw(id, option) {
    var element = document.getElementById(id);
    if (!element) { return; }
    var chart = echarts.init(element, null, { locale: locale, renderer: "svg" });
    chart.setOption(option);
    element.setAttribute("data-drawn", "true");
    charts.push(chart);
  }

  function openOverdue(rows, name) {
    return {
      tooltip: { trigger: "axis" },
      legend: { data: [t("办理中", "Open"), t("超时", "Overdue")] },
      grid: { left: 8, right: 16, bottom: 8, top: 36, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: rows.map(name),
               axisLabel: { width: 110, overflow: "truncate" } },
      series: [
        { name: t("办理中", "Open"), type: "bar", data: rows.map(function (r) { return r.open; }) },
        { name: t("超时", "Overdue"), type: "bar", color: "#c0392b",
          data: rows.map(function (r) { return r.overdue; }) }
      ]
    };
  }

  var requests = figures.requests;
  draw("chart-category", openOverdue(requests.by_category, function (r) {
    return en ? r.name_en : r.name_zh;
  }));
  draw("chart-community", openOverdue(requests.by_community, function (r) {
    return r.community || t("未归属社区", "No community");
  }));
  if (figures.mitigation) {
    var labels = data.step_labels;
    draw("chart-funnel", {
      tooltip: { trigger: "item" },
      series: [{
        type: "funnel", sort: "none", left: "5%", width: "90%", minSize: "10%",
        label: { show: true, position: "inside" },
        data: data.steps.map(function (step) {
          return { name: labels[step][en ? 1 : 0], value: figures.mitigation.reached[step] };
        })
      }]
    });
  }
  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
})();
