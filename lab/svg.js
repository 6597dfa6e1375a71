// Helpers shared by Backprop Lab's components (lab/player.js, lab/race.js, lab/scan.js): lab/components.py
// puts this file in front of each one's own script.

const SVG_NS = "http://www.w3.org/2000/svg";
const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };

// 10⁻⁸ for -8: a log axis's tick.
function power(exponent) {
  return "10" + String(exponent).split("").map((c) => SUPERSCRIPT[c]).join("");
}

// An SVG element; text (if any) is set as textContent, never parsed as markup.
function svgElement(name, attributes, text) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

// The plot rectangle's size inside a box { width, height, left, right, top, bottom }.
function plotSize(box) {
  return { plotW: box.width - box.left - box.right, plotH: box.height - box.top - box.bottom };
}

// [value, label] ticks of a log axis from 10^high down to 10^low, about `most` of them at most.
function logTicks(low, high, most) {
  const ticks = [];
  const every = Math.max(1, Math.ceil((high - low) / most));
  for (let e = high; e >= low; e -= every) ticks.push([10 ** e, power(e)]);
  return ticks;
}

// An <svg> of the box's size (class svgClass, described by label) with its plot rectangle, a grid line and
// a label at each y tick ([value, text], placed by y), and the axis titles (an empty one is left out).
function plotFrame(box, svgClass, label, yTicks, y, xTitle, yTitle) {
  const { width, height, left, top } = box;
  const { plotW, plotH } = plotSize(box);
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, class: svgClass, role: "img", "aria-label": label });
  svg.append(svgElement("rect", { x: left, y: top, width: plotW, height: plotH, class: "bp-chart-plot" }));
  for (const [value, text] of yTicks) {
    svg.append(svgElement("line", { x1: left, x2: left + plotW, y1: y(value), y2: y(value), class: "bp-chart-grid" }));
    svg.append(svgElement("text", { x: left - 6, y: y(value) + 4, class: "bp-chart-tick", "text-anchor": "end" }, text));
  }
  if (xTitle) {
    svg.append(svgElement("text", { x: left + plotW / 2, y: height - 6, class: "bp-chart-tick", "text-anchor": "middle" }, xTitle));
  }
  if (yTitle) {
    const middle = top + plotH / 2;
    svg.append(
      svgElement("text", { x: 14, y: middle, class: "bp-chart-tick", "text-anchor": "middle", transform: `rotate(-90 14 ${middle})` }, yTitle),
    );
  }
  return svg;
}
