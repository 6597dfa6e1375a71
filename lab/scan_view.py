"""The dense scan drawn in the browser: final E_total against η, both axes log, a dot per learning rate
coloured by status, and a line at each compared η and where convergence stops (lab/charts.scan_chart's
data; a custom component, with scan.js and scan.css next to this file).

Not a plotly chart, for the reason lab/race.py gives: the first plotly chart on a page cost Chromium
0.6-1.2 s on the 2-core machine, whatever it held.
"""

from __future__ import annotations

from .components import component

_component = component("backprop_lab.scan", "scan")


def scan(chart: dict, key: str = "scan") -> None:
    _component(key=key, data=chart, height="content")
