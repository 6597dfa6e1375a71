// Backprop Lab's learning-rate race (see lab/race.py): every compared rate's E_total curve, drawn up to
// the step shown. ▶ Play the race advances that step through the played steps in the browser (no
// Streamlit rerun per frame); the slider picks a step by hand. Text is set with textContent, never HTML.

const BOX = { width: 760, height: 400, left: 64, right: 16, top: 16, bottom: 44 };
// svgElement(), plotSize(), logTicks() and plotFrame() come from lab/svg.js (lab/components.py puts it first).

// How many of the sorted `xs` are <= step.
function upTo(xs, step) {
  let low = 0;
  let high = xs.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (xs[middle] <= step) low = middle + 1;
    else high = middle;
  }
  return low;
}

function build(parent) {
  const r = { playing: false, index: 0, position: 0, raf: 0 };
  const root = document.createElement("div");
  root.className = "bp-race";
  root.dataset.testid = "bp-race";
  const controls = document.createElement("div");
  controls.className = "bp-race-controls";
  r.play = document.createElement("button");
  r.play.type = "button";
  r.play.textContent = "▶ Play the race";
  r.play.title = "Draw every rate's curve step by step, side by side";
  r.slider = document.createElement("input");
  r.slider.type = "range";
  r.slider.min = "0";
  r.slider.setAttribute("aria-label", "Step shown");
  r.label = document.createElement("span");
  r.label.className = "bp-race-step";
  controls.append(r.play, r.slider, r.label);
  r.chart = document.createElement("div");
  r.chart.className = "bp-chart-scroll";
  r.legend = document.createElement("div");
  r.legend.className = "bp-chart-legend";
  root.append(controls, r.chart, r.legend);
  parent.append(root);
  r.root = root;
  r.play.addEventListener("click", () => (r.playing ? pause(r) : play(r)));
  r.slider.addEventListener("input", () => {
    pause(r);
    show(r, Number(r.slider.value));
  });
  return r;
}

function draw(r, data) {
  const { left, top } = BOX;
  const { plotW, plotH } = plotSize(BOX);
  const x = (step) => left + (data.last > 0 ? (step / data.last) * plotW : 0);
  const y = data.log
    ? (e) => top + ((data.high - Math.log10(e)) / (data.high - data.low)) * plotH
    : (e) => top + ((data.high - e) / (data.high - data.low)) * plotH;
  const linear = [0, 1, 2, 3, 4].map((i) => data.low + ((data.high - data.low) * i) / 4).map((v) => [v, v.toPrecision(3)]);
  const ticks = data.log ? logTicks(data.low, data.high, 8) : linear;
  const label = `E_total against step for each learning rate${data.log ? ", log scale" : ""}`;
  const svg = plotFrame(BOX, "bp-chart-svg", label, ticks, y, "step", "E_total");
  for (let i = 0; i <= 4; i += 1) {
    const step = Math.round((data.last * i) / 4);
    svg.append(
      svgElement("text", { x: x(step), y: top + plotH + 16, class: "bp-chart-tick", "text-anchor": "middle" }, step.toLocaleString("en")),
    );
  }
  r.lines = data.curves.map((curve) => {
    const line = svgElement("polyline", { class: "bp-race-line", stroke: curve.colour, "data-label": curve.label });
    line.append(svgElement("title", {}, `${curve.label} (${curve.status})`));
    svg.append(line);
    return { line, xs: curve.x, points: curve.x.map((s, i) => `${x(s).toFixed(1)},${y(curve.y[i]).toFixed(1)}`) };
  });
  r.chart.replaceChildren(svg);
  r.legend.replaceChildren(
    ...data.curves.map((curve) => {
      const key = document.createElement("span");
      key.className = "bp-race-key";
      key.style.setProperty("--bp-colour", curve.colour);
      key.textContent = `${curve.label}: ${curve.status}`;
      return key;
    }),
  );
}

function show(r, index) {
  const steps = r.data.steps;
  r.index = Math.min(Math.max(index, 0), steps.length - 1);
  const step = steps[r.index];
  for (const { line, xs, points } of r.lines) line.setAttribute("points", points.slice(0, upTo(xs, step)).join(" "));
  r.slider.value = String(r.index);
  r.label.textContent = `step ${step.toLocaleString("en")}`;
  r.root.dataset.step = String(step);
}

function tick(r, now) {
  if (!r.playing) return;
  r.position += ((now - r.lastTime) / 1000) * r.data.fps;
  r.lastTime = now;
  const last = r.data.steps.length - 1;
  const index = Math.min(Math.floor(r.position), last);
  if (index !== r.index) show(r, index);
  if (index >= last) {
    pause(r);
    return;
  }
  r.raf = requestAnimationFrame((t) => tick(r, t));
}

function play(r) {
  show(r, 0); // a race starts from the start line
  r.playing = true;
  r.position = 0;
  r.lastTime = performance.now();
  r.play.textContent = "❙❙ Pause";
  r.root.dataset.playing = "1";
  r.raf = requestAnimationFrame((t) => tick(r, t));
}

function pause(r) {
  r.playing = false;
  cancelAnimationFrame(r.raf);
  r.play.textContent = "▶ Play the race";
  r.root.dataset.playing = "0";
}

export default function (component) {
  const { data, parentElement } = component;
  let r = parentElement.__backpropRace;
  if (!r) {
    r = build(parentElement);
    parentElement.__backpropRace = r;
  }
  pause(r);
  r.data = data;
  r.slider.max = String(data.steps.length - 1);
  draw(r, data);
  show(r, data.steps.length - 1); // the whole run until Play is pressed
}
