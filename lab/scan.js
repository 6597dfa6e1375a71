// Backprop Lab's dense scan (see lab/scan_view.py): a dot per learning rate at its final E_total, both
// axes log, and a labelled line at each mark. Text is set with textContent, never HTML.
// svgElement(), power(), plotSize(), logTicks() and plotFrame() come from lab/svg.js (lab/components.py puts it first).

const BOX = { width: 760, height: 360, left: 64, right: 16, top: 16, bottom: 44 };

function draw(root, data) {
  const { left, top } = BOX;
  const { plotW, plotH } = plotSize(BOX);
  const x = (lr) => left + ((Math.log10(lr) - data.x_low) / (data.x_high - data.x_low || 1)) * plotW;
  const y = (e) => top + ((data.y_high - Math.log10(e)) / (data.y_high - data.y_low)) * plotH;
  const label = `${data.y_title} against the learning rate, both axes log`;
  const yTicks = logTicks(data.y_low, data.y_high, 8);
  const svg = plotFrame(BOX, "bp-chart-svg", label, yTicks, y, data.x_title, data.y_title);
  for (let e = Math.ceil(data.x_low); e <= Math.floor(data.x_high); e += 1) {
    const at = x(10 ** e);
    svg.append(svgElement("line", { x1: at, x2: at, y1: top, y2: top + plotH, class: "bp-chart-grid" }));
    svg.append(svgElement("text", { x: at, y: top + plotH + 16, class: "bp-chart-tick", "text-anchor": "middle" }, power(e)));
  }
  for (const series of data.series) {
    const group = svgElement("g", { fill: series.colour, "data-series": series.name });
    series.x.forEach((lr, i) => {
      const dot = svgElement("circle", { cx: x(lr).toFixed(1), cy: y(series.y[i]).toFixed(1), r: series.zero ? 3.5 : 2.5 });
      dot.append(svgElement("title", {}, `η ${lr.toPrecision(4)} · final E_total ${series.zero ? 0 : series.y[i].toPrecision(6)} · ${series.name}`));
      group.append(dot);
    });
    svg.append(group);
  }
  for (const mark of data.marks) {
    if (mark.x < 10 ** data.x_low || mark.x > 10 ** data.x_high) continue; // outside the scan: not drawn
    const at = x(mark.x);
    svg.append(svgElement("line", { x1: at, x2: at, y1: top, y2: top + plotH, class: "bp-scan-mark", "stroke-dasharray": mark.dash === "dot" ? "2 3" : "6 4", "data-mark": mark.label }));
    svg.append(
      svgElement("text", { x: at - 3, y: top + 4, class: "bp-scan-mark-label", "text-anchor": "end", transform: `rotate(-90 ${at - 3} ${top + 4})` }, mark.label),
    );
  }
  const legend = document.createElement("div");
  legend.className = "bp-chart-legend";
  for (const series of data.series) {
    const key = document.createElement("span");
    key.className = "bp-scan-key";
    key.style.setProperty("--bp-colour", series.colour);
    key.textContent = `${series.name} (${series.x.length})`;
    legend.append(key);
  }
  const chart = document.createElement("div");
  chart.className = "bp-chart-scroll";
  chart.append(svg);
  root.replaceChildren(chart, legend);
}

export default function (component) {
  const { data, parentElement } = component;
  let root = parentElement.__backpropScan;
  if (!root) {
    root = document.createElement("div");
    root.className = "bp-scan";
    root.dataset.testid = "bp-scan";
    parentElement.append(root);
    parentElement.__backpropScan = root;
  }
  draw(root, data);
}
