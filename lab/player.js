// Backprop Lab's player (see lab/player.py): plays a payload of precomputed frames in the browser.
//
// Streamlit calls this function when the component mounts and again whenever the page reruns with
// new data; the player keeps its state on the parent element between calls. Every text and width it
// shows comes ready-made from Python (lab/diagram.py), so this file only copies them onto the SVG,
// draws the error curve, and reports the step back with setTriggerValue("step", …) on Pause, Step,
// Reset, at the end of a run and on a click on the curve. Text is set with textContent, never as HTML.

const CURVE = { width: 340, height: 270, left: 56, right: 14, top: 30, bottom: 40 };
// svgElement(), plotSize(), logTicks() and plotFrame() come from lab/svg.js (lab/components.py puts it first).

function button(label, title) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.title = title;
  return element;
}

// The index of the frame whose step is nearest to `step` (steps are sorted).
function nearest(steps, step) {
  let low = 0;
  let high = steps.length - 1;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (steps[middle] < step) low = middle + 1;
    else high = middle;
  }
  if (low > 0 && step - steps[low - 1] < steps[low] - step) return low - 1;
  return low;
}

function build(parent) {
  const p = { playing: false, index: 0, position: 0, speed: 1, view: "forward", draws: 0, raf: 0 };
  const root = document.createElement("div");
  root.className = "bp-player";
  root.dataset.testid = "bp-player";

  const controls = document.createElement("div");
  controls.className = "bp-controls";
  p.play = button("▶ Play", "Play the run from this step (Pause stops on the step shown)");
  p.step = button("Step ›", "One frame forward");
  p.reset = button("⟲ Reset", "Back to step 0");
  p.play.className = "bp-primary";
  p.speedSelect = document.createElement("select");
  p.speedSelect.title = "Playback speed";
  p.viewSelect = document.createElement("select");
  p.viewSelect.title = "What the edges and units show";
  for (const [value, label] of [["forward", "Forward: weights"], ["backward", "Backward: gradients, δ"]]) {
    p.viewSelect.append(new Option(label, value));
  }
  const speedLabel = document.createElement("label");
  speedLabel.append("Speed ", p.speedSelect);
  const viewLabel = document.createElement("label");
  viewLabel.append("Show ", p.viewSelect);
  controls.append(p.play, p.step, p.reset, speedLabel, viewLabel);

  const body = document.createElement("div");
  body.className = "bp-body";
  p.diagram = document.createElement("div");
  p.diagram.className = "bp-diagram";
  p.curveBox = document.createElement("div");
  p.curveBox.className = "bp-curve";
  body.append(p.diagram, p.curveBox);
  root.append(controls, body);
  parent.append(root);
  p.root = root;

  p.play.addEventListener("click", () => (p.playing ? pause(p, true) : play(p)));
  p.step.addEventListener("click", () => {
    pause(p, false);
    show(p, Math.min(p.index + 1, p.data.steps.length - 1));
    report(p);
  });
  p.reset.addEventListener("click", () => {
    pause(p, false);
    show(p, 0);
    report(p);
  });
  p.speedSelect.addEventListener("change", () => (p.speed = Number(p.speedSelect.value)));
  p.viewSelect.addEventListener("change", () => {
    p.view = p.viewSelect.value;
    p.root.classList.toggle("bp-backward", p.view === "backward");
    p.legend.textContent = p.data.legend[p.view];
    show(p, p.index);
  });
  return p;
}

function buildDiagram(p, data) {
  p.diagram.innerHTML = data.svg; // trusted: written by lab/diagram.py, every label escaped there
  p.svgSource = data.svg;
  p.texts = Array.from(p.diagram.querySelectorAll("[data-k]")).filter((e) => e.dataset.k !== "legend");
  p.edges = Array.from(p.diagram.querySelectorAll("[data-edge]"));
  p.legend = p.diagram.querySelector('[data-k="legend"]');
  p.legend.textContent = data.legend[p.view];
}

function buildCurve(p, data) {
  const c = data.curve;
  const { left, top } = CURVE;
  const { plotW, plotH } = plotSize(CURVE);
  const x = (step) => left + (c.last > 0 ? (step / c.last) * plotW : 0);
  const y = (error) => top + ((c.high - Math.log10(error)) / (c.high - c.low)) * plotH;
  p.curveX = x;
  p.curveY = y;
  p.curveRun = data.run;
  const label = "E_total against step, log scale; click to jump to a step";
  const svg = plotFrame(CURVE, "bp-curve-svg", label, logTicks(c.low, c.high, 6), y, "step", "");
  svg.append(svgElement("text", { x: left, y: 18, class: "bp-curve-title" }, "E_total (log scale) · click to jump"));
  for (const step of [0, c.last]) {
    svg.append(
      svgElement("text", { x: x(step), y: top + plotH + 16, class: "bp-chart-tick", "text-anchor": "middle" }, step.toLocaleString("en")),
    );
  }
  const points = c.x.map((step, i) => `${x(step).toFixed(1)},${y(c.y[i]).toFixed(1)}`).join(" ");
  svg.append(svgElement("polyline", { points, class: "bp-line" }));
  // A sheet with a mistake (lab/player.py, compare): dashed, under a one-line key above the plot.
  const m = c.compare;
  if (m) {
    const wrong = m.x.map((step, i) => `${x(step).toFixed(1)},${y(m.y[i]).toFixed(1)}`).join(" ");
    svg.append(svgElement("polyline", { points: wrong, class: "bp-line-mistake", "data-testid": "bp-mistake-curve" }));
  }
  p.cursor = svgElement("line", { y1: top, y2: top + plotH, class: "bp-cursor" });
  p.marker = svgElement("circle", { r: 5, class: "bp-marker" });
  svg.append(p.cursor, p.marker);
  svg.addEventListener("click", (event) => {
    const box = svg.getBoundingClientRect();
    const inside = ((event.clientX - box.left) / box.width) * CURVE.width;
    const fraction = Math.min(Math.max((inside - left) / plotW, 0), 1);
    const step = Math.round(fraction * c.last);
    pause(p, false);
    show(p, nearest(p.data.steps, step));
    p.root.dataset.clicked = String(step);
    p.setTriggerValue("step", step); // the exact step clicked; the page reruns on it
  });
  p.curveBox.replaceChildren(svg);
  if (m) {
    const key = document.createElement("div");
    key.className = "bp-curve-key";
    key.dataset.testid = "bp-curve-key";
    const right = document.createElement("div");
    right.className = "bp-key-right";
    right.textContent = c.label;
    const wrong = document.createElement("div");
    wrong.className = "bp-key-mistake";
    wrong.textContent = m.label;
    key.append(right, wrong);
    p.curveBox.append(key);
  }
}

// E_total of every frame, for the marker: the curve holds every frame's step.
function frameErrors(data) {
  const byStep = new Map(data.curve.x.map((step, i) => [step, data.curve.y[i]]));
  return data.steps.map((step) => byStep.get(step));
}

function show(p, index) {
  const d = p.data;
  p.index = index;
  const text = d.text[p.view];
  for (const element of p.texts) {
    const column = text[element.dataset.k];
    if (column) element.textContent = column[index];
  }
  const widths = d.width[p.view];
  const negative = d.negative[p.view];
  for (const element of p.edges) {
    const w = element.dataset.edge;
    element.setAttribute("stroke-width", widths[w][index]);
    element.classList.toggle("neg", negative[w][index] === "1");
  }
  const step = d.steps[index];
  const error = p.frameErrors[index];
  if (step === undefined || error === undefined) return;
  p.cursor.setAttribute("x1", p.curveX(step));
  p.cursor.setAttribute("x2", p.curveX(step));
  p.marker.setAttribute("cx", p.curveX(step));
  p.marker.setAttribute("cy", p.curveY(error));
  p.root.dataset.step = String(step);
  p.draws += 1;
  p.root.dataset.draws = String(p.draws);
  if (p.playStarted !== undefined && p.firstFrameMs === undefined && index !== p.playFrom) {
    p.firstFrameMs = performance.now() - p.playStarted;
    p.root.dataset.firstFrameMs = p.firstFrameMs.toFixed(1);
  }
}

function report(p) {
  p.setTriggerValue("step", p.data.steps[p.index]);
}

function tick(p, now) {
  if (!p.playing) return;
  p.position += ((now - p.lastTime) / 1000) * p.data.fps * p.speed;
  p.lastTime = now;
  const last = p.data.steps.length - 1;
  const index = Math.min(Math.floor(p.position), last);
  if (index !== p.index) show(p, index);
  if (index >= last) {
    pause(p, true);
    return;
  }
  p.raf = requestAnimationFrame((t) => tick(p, t));
}

function play(p) {
  if (p.index >= p.data.steps.length - 1) show(p, 0); // at the end: play again from the start
  p.playing = true;
  p.position = p.index;
  p.playFrom = p.index;
  p.playStarted = performance.now();
  p.firstFrameMs = undefined;
  p.lastTime = p.playStarted;
  p.play.textContent = "❙❙ Pause";
  p.root.classList.add("bp-playing");
  p.root.dataset.playing = "1";
  p.raf = requestAnimationFrame((t) => tick(p, t));
}

function pause(p, tell) {
  const was = p.playing;
  p.playing = false;
  cancelAnimationFrame(p.raf);
  p.play.textContent = "▶ Play";
  p.root.classList.remove("bp-playing");
  p.root.dataset.playing = "0";
  if (was && tell) report(p);
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let p = parentElement.__backpropPlayer;
  if (!p) {
    p = build(parentElement);
    parentElement.__backpropPlayer = p;
  }
  p.setTriggerValue = setTriggerValue;
  const shownStep = p.data ? p.data.steps[p.index] : undefined;
  p.data = data;
  if (p.speedSelect.options.length === 0) {
    for (const speed of data.speeds) p.speedSelect.append(new Option(`${speed}×`, String(speed), speed === 1, speed === 1));
  }
  if (p.svgSource === undefined || (p.svgSource !== data.svg && !p.playing)) buildDiagram(p, data);
  if (p.curveRun !== data.run) buildCurve(p, data);
  p.frameErrors = frameErrors(data);
  if (p.playing && shownStep !== undefined) {
    p.index = nearest(data.steps, shownStep); // a rerun while playing: carry on from the same step
    p.position = p.index;
  } else {
    show(p, data.start);
  }
  return () => {
    pause(p, false);
    delete parentElement.__backpropPlayer;
  };
}
