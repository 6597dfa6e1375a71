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

