"""The MNIST page's charts: loss and accuracy per epoch, for one run or several. Plain plotly, no Streamlit."""

from __future__ import annotations

import plotly.graph_objects as go

from training import runs

HEIGHT = 320


def _layout(fig: go.Figure, title: str, y_title: str, epochs: int, empty: bool) -> go.Figure:
    # Without data plotly picks -1..4 for both axes, which reads as if epochs could be negative: before the
    # first epoch the axes already show the run's epochs and, for accuracy, 0..100 %.
    xaxis = {"title": "epoch", "range": [0, max(epochs, 1)]} if empty else {"title": "epoch"}
    fig.update_layout(title=title, xaxis=xaxis, yaxis_title=y_title, height=HEIGHT, margin={"t": 40, "b": 40})
    if empty and y_title.startswith("accuracy"):
        fig.update_yaxes(range=[0, 100])
    return fig


def loss_chart(progress: runs.RunProgress, epochs: int = 1) -> go.Figure:
    fig = go.Figure()
    if progress.batch_losses:
        x, y = zip(*progress.batch_losses, strict=True)
        fig.add_scatter(x=x, y=y, mode="lines", name="batch loss", line={"width": 1})
    done = [e["epoch"] for e in progress.epochs]
    fig.add_scatter(x=done, y=[e.get("train_loss") for e in progress.epochs], mode="lines+markers",
                    name="train loss (epoch)")  # fmt: skip
    fig.add_scatter(x=done, y=[e.get("test_loss") for e in progress.epochs], mode="lines+markers",
                    name="test loss")  # fmt: skip
    return _layout(fig, "Loss", "cross-entropy", epochs, empty=not progress.batch_losses and not done)


def accuracy_chart(curves: dict[str, list[dict]], title: str = "Accuracy", epochs: int = 1) -> go.Figure:
    """Test (and, for a single run, train) accuracy per epoch; `curves` maps a name to its epoch events."""
    fig = go.Figure()
    for name, events in curves.items():
        x = [e["epoch"] for e in events]
        label = "" if len(curves) == 1 else f"{name}: "
        fig.add_scatter(x=x, y=[e.get("test_acc") for e in events], mode="lines+markers", name=f"{label}test")
        if len(curves) == 1:
            fig.add_scatter(x=x, y=[e.get("train_acc") for e in events], mode="lines+markers", name="train")
    empty = not any(curves.values())
    return _layout(fig, title, "accuracy (%)", epochs, empty)
