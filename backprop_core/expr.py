"""A tiny expression language: each formula of the network is written once, as a tree.

The same tree is
- evaluated with numpy (vectorised: every symbol may be an array over a learning-rate axis),
- printed as LaTeX, symbolically (h_1 = w_1 i_1 + w_2 i_2) or with numbers substituted,
- printed as an Excel formula, given a function that says which cell holds each symbol,
- printed as Python source of scalar float64 arithmetic, which backprop_core.compiled pastes into one
  step of descent and compiles with numba (the fast path; numpy stays the reference).

Nothing here knows about the network; backprop_core.network builds the trees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, is_dataclass, replace

import numpy as np

from .activations import Activation

# Reference(name) -> an Excel reference such as "J5" or "eta", or None to inline that symbol's own formula.
Reference = Callable[[str], "str | None"]


class Expr:
    """Base class. Operators build trees: Sym("w1") * Sym("i1") + Sym("w2") * Sym("i2")."""

    def __add__(self, other: Expr | float) -> Expr:
        return Add((self, wrap(other)))

    def __sub__(self, other: Expr | float) -> Expr:
        return Sub(self, wrap(other))

    def __rsub__(self, other: Expr | float) -> Expr:
        return Sub(wrap(other), self)

    def __mul__(self, other: Expr | float) -> Expr:
        return Mul((self, wrap(other)))

    def __rmul__(self, other: Expr | float) -> Expr:
        return Mul((wrap(other), self))

    def evaluate(self, env: Mapping[str, np.ndarray], act: Activation) -> np.ndarray:
        return self.compile(act)(env)

    # Each subclass implements these five.
    def compile(self, act: Activation) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
        """A function env -> value. Built once per tree, so a descent of many steps walks no tree."""
        raise NotImplementedError

    def latex(self, act: Activation, values: Mapping[str, float] | None = None) -> str:
        """LaTeX; with `values`, every symbol is replaced by its number."""
        raise NotImplementedError

    def excel(self, act: Activation, ref: Reference, formulas: Mapping[str, Expr]) -> str:
        """An Excel expression (without the leading '='). Symbols that `ref` maps to None are inlined."""
        raise NotImplementedError

    def source(self, act: Activation) -> str:
        """A Python expression over float scalars named as the symbols (h1, w5, eta ...), with the
        numpy form's operations in the numpy form's order, so that the two round alike."""
        raise NotImplementedError

    def symbols(self) -> set[str]:
        """Every symbol name the tree mentions directly."""
        raise NotImplementedError

    # Binding strength, so that printing adds only the parentheses that are needed.
    precedence = 3


def wrap(value: Expr | float) -> Expr:
    return value if isinstance(value, Expr) else Num(float(value))


SIGNIFICANT_DIGITS = 6  # a derivation's numbers: enough to check by hand, short enough to fit a phone


def format_number(value: float) -> str:
    """Numbers as a student reads them in a derivation: up to SIGNIFICANT_DIGITS significant digits."""
    return f"{value:.{SIGNIFICANT_DIGITS}g}".replace("e+0", "e+").replace("e-0", "e-")


def latex_symbol(name: str) -> str:
    """w1 -> w_{1}, a_h1 -> a_{h_{1}}, delta_o1 -> \\delta_{o_{1}}, next_w1 -> w_{1}^{new}, dE_dw5 -> ∂E/∂w_{5}."""
    if name == "eta":
        return r"\eta"
    if name.startswith("dE_d"):
        return r"\frac{\partial E}{\partial " + latex_symbol(name[4:]) + "}"
    if name.startswith("a_"):
        return "a_{" + latex_symbol(name[2:]) + "}"
    if name.startswith("delta_"):
        return r"\delta_{" + latex_symbol(name[6:]) + "}"
    if name.startswith("next_"):
        return latex_symbol(name[5:]) + r"^{\text{new}}"
    if name == "E_total":
        return r"E_{total}"
    head = name.rstrip("0123456789")
    digits = name[len(head) :]
    return f"{head}_{{{digits}}}" if digits else head


def plain_symbol(name: str) -> str:
    """A quantity as a student types it (sheet headers, hints, tables): dE_dw1 -> ∂E/∂w1, delta_o1 -> δ_o1, eta -> η."""
    if name.startswith("dE_d"):
        return f"∂E/∂{name[4:]}"
    if name.startswith("delta_"):
        return f"δ_{name[6:]}"
    if name.startswith("next_"):
        return f"new {name[5:]}"
    return "η" if name == "eta" else name


def _fold(parts: list[Callable], combine: Callable) -> Callable:
    """Left fold of compiled parts: ((p0 ∘ p1) ∘ p2) ..., as nested closures."""
    fn = parts[0]
    for part in parts[1:]:
        fn = (lambda a, b: lambda env: combine(a(env), b(env)))(fn, part)
    return fn


def _wrap_latex(child: Expr, parent_precedence: int, text: str) -> str:
    return rf"\left({text}\right)" if child.precedence < parent_precedence else text


def _wrap_excel(child: Expr, parent_precedence: int, text: str) -> str:
    return f"({text})" if child.precedence < parent_precedence else text


def _wrap_source(child: Expr, act: Activation) -> str:
    """A child's source, bracketed unless it is one name or a non-negative number: the bracket keeps
    the tree's own grouping, so (a + (b + c)) is not re-read as (a + b) + c and rounds as numpy does."""
    text = child.source(act)
    atomic = isinstance(child, Sym) or (isinstance(child, Num) and child.value >= 0)
    return text if atomic else f"({text})"


@dataclass(frozen=True)
class Sym(Expr):
    name: str

    def compile(self, act):
        name = self.name
        return lambda env: env[name]

    def latex(self, act, values=None):
        if values is None:
            return latex_symbol(self.name)
        return format_number(float(values[self.name]))

    def excel(self, act, ref, formulas):
        cell = ref(self.name)
        if cell is not None:
            return cell
        if self.name not in formulas:
            raise KeyError(f"no cell and no formula for {self.name!r}")
        inner = formulas[self.name]
        # Inlined in place of a symbol: only a sum needs parentheses (a product reads the same inside
        # another product, and Sub already brackets a product on its right).
        return _wrap_excel(inner, 2, inner.excel(act, ref, formulas))

    def source(self, act):
        if not self.name.isidentifier():
            raise ValueError(f"{self.name!r} is not a name Python source can use")
        return self.name

    def symbols(self):
        return {self.name}


@dataclass(frozen=True)
class Num(Expr):
    value: float

    def compile(self, act):
        value = self.value
        return lambda env: value

    def latex(self, act, values=None):
        return r"\tfrac{1}{2}" if self.value == 0.5 else format_number(self.value)

    def excel(self, act, ref, formulas):
        return repr(self.value) if self.value != int(self.value) else str(int(self.value))

    def source(self, act):
        return repr(float(self.value))  # repr round-trips a float64 exactly

    def symbols(self):
        return set()


@dataclass(frozen=True)
class Add(Expr):
    terms: tuple[Expr, ...]
    precedence = 1

    def __add__(self, other):  # keep sums flat: a + b + c is one node
        return Add((*self.terms, wrap(other)))

    def compile(self, act):
        return _fold([t.compile(act) for t in self.terms], lambda x, y: x + y)

    def latex(self, act, values=None):
        return " + ".join(_wrap_latex(t, 1, t.latex(act, values)) for t in self.terms)

    def excel(self, act, ref, formulas):
        return "+".join(_wrap_excel(t, 1, t.excel(act, ref, formulas)) for t in self.terms)

    def source(self, act):  # Python adds left to right, as _fold does
        return " + ".join(_wrap_source(t, act) for t in self.terms)

    def symbols(self):
        return set().union(*(t.symbols() for t in self.terms))


@dataclass(frozen=True)
class Sub(Expr):
    left: Expr
    right: Expr
    precedence = 1

    def compile(self, act):
        left, right = self.left.compile(act), self.right.compile(act)
        return lambda env: left(env) - right(env)

    def latex(self, act, values=None):
        return f"{_wrap_latex(self.left, 1, self.left.latex(act, values))} - " + _wrap_latex(
            self.right, 2, self.right.latex(act, values)
        )

    def excel(self, act, ref, formulas):
        return f"{_wrap_excel(self.left, 1, self.left.excel(act, ref, formulas))}-" + _wrap_excel(
            self.right, 2, self.right.excel(act, ref, formulas)
        )

    def source(self, act):
        return f"{_wrap_source(self.left, act)} - {_wrap_source(self.right, act)}"

    def symbols(self):
        return self.left.symbols() | self.right.symbols()


@dataclass(frozen=True)
class Mul(Expr):
    factors: tuple[Expr, ...]
    precedence = 2

    def __mul__(self, other):  # keep products flat
        return Mul((*self.factors, wrap(other)))

    def compile(self, act):
        return _fold([f.compile(act) for f in self.factors], lambda x, y: x * y)

    def latex(self, act, values=None):
        joiner = r" \cdot " if values is not None else r" \, "
        return joiner.join(_wrap_latex(f, 2, f.latex(act, values)) for f in self.factors)

    def excel(self, act, ref, formulas):
        return "*".join(_wrap_excel(f, 2, f.excel(act, ref, formulas)) for f in self.factors)

    def source(self, act):
        return " * ".join(_wrap_source(f, act) for f in self.factors)

    def symbols(self):
        return set().union(*(f.symbols() for f in self.factors))


@dataclass(frozen=True)
class Square(Expr):
    base: Expr

    def compile(self, act):
        base = self.base.compile(act)
        return lambda env: np.square(base(env))

    def latex(self, act, values=None):
        return rf"\left({self.base.latex(act, values)}\right)^2"

    def excel(self, act, ref, formulas):
        return f"({self.base.excel(act, ref, formulas)})^2"

    def source(self, act):  # np.square(x) is x * x, one rounding
        base = _wrap_source(self.base, act)
        return f"{base} * {base}"

    def symbols(self):
        return self.base.symbols()


@dataclass(frozen=True)
class Activate(Expr):
    """The activation function applied to a pre-activation: a_h1 = act(h1)."""

    arg: Expr

    def compile(self, act):
        arg, forward = self.arg.compile(act), act.forward
        return lambda env: forward(arg(env))

    def latex(self, act, values=None):
        return act.latex_forward(self.arg.latex(act, values))

    def excel(self, act, ref, formulas):
        return act.excel_forward(self.arg.excel(act, ref, formulas))

    def source(self, act):
        return act.source_forward(_wrap_source(self.arg, act))

    def symbols(self):
        return self.arg.symbols()


@dataclass(frozen=True)
class ActivationSlope(Expr):
    """d act(z)/dz, written the way the course writes it: through the output a where it can be
    (sigmoid: a(1-a), tanh: 1-a^2), through the input z where it must (ReLU: 1 if z > 0)."""

    pre: Sym  # z, the pre-activation (h1, o1, ...)
    post: Sym  # a, the activation (a_h1, a_o1, ...)

    def compile(self, act):
        pre, post, slope = self.pre.compile(act), self.post.compile(act), act.slope
        return lambda env: slope(pre(env), post(env))

    def latex(self, act, values=None):
        return act.latex_slope(self.pre.latex(act, values), self.post.latex(act, values))

    def excel(self, act, ref, formulas):
        return act.excel_slope(self.pre.excel(act, ref, formulas), self.post.excel(act, ref, formulas))

    def source(self, act):
        return act.source_slope(_wrap_source(self.pre, act), _wrap_source(self.post, act))

    def symbols(self):
        return self.pre.symbols() | self.post.symbols()


# ---- What a spreadsheet formula adds: the checker reads a student's Excel formula into these nodes
# (sheetcheck/trees.py), so that it can be evaluated at random points beside the network's own trees.
# The network's formulas never use them; each operation's behaviour is written here once.


@dataclass(frozen=True)
class Neg(Expr):
    arg: Expr
    precedence = 4  # Excel binds unary minus tighter than ^: -x^2 is (-x)^2

    def compile(self, act):
        arg = self.arg.compile(act)
        return lambda env: -arg(env)

    def latex(self, act, values=None):
        return "-" + _wrap_latex(self.arg, 3, self.arg.latex(act, values))

    def excel(self, act, ref, formulas):
        return "-" + _wrap_excel(self.arg, 3, self.arg.excel(act, ref, formulas))

    def source(self, act):
        return f"-{_wrap_source(self.arg, act)}"

    def symbols(self):
        return self.arg.symbols()


@dataclass(frozen=True)
class Div(Expr):
    left: Expr
    right: Expr
    precedence = 2

    def compile(self, act):
        left, right = self.left.compile(act), self.right.compile(act)
        return lambda env: np.divide(left(env), right(env))

    def latex(self, act, values=None):
        return rf"\frac{{{self.left.latex(act, values)}}}{{{self.right.latex(act, values)}}}"

    def excel(self, act, ref, formulas):
        return f"{_wrap_excel(self.left, 2, self.left.excel(act, ref, formulas))}/" + _wrap_excel(
            self.right, 3, self.right.excel(act, ref, formulas)
        )

    def source(self, act):
        return f"{_wrap_source(self.left, act)} / {_wrap_source(self.right, act)}"

    def symbols(self):
        return self.left.symbols() | self.right.symbols()


@dataclass(frozen=True)
class Pow(Expr):
    base: Expr
    exponent: Expr

    def compile(self, act):
        base, exponent = self.base.compile(act), self.exponent.compile(act)
        return lambda env: np.power(base(env), exponent(env))

    def latex(self, act, values=None):
        return rf"\left({self.base.latex(act, values)}\right)^{{{self.exponent.latex(act, values)}}}"

    def excel(self, act, ref, formulas):
        return f"{_wrap_excel(self.base, 4, self.base.excel(act, ref, formulas))}^" + _wrap_excel(
            self.exponent, 4, self.exponent.excel(act, ref, formulas)
        )

    def source(self, act):
        return f"{_wrap_source(self.base, act)} ** {_wrap_source(self.exponent, act)}"

    def symbols(self):
        return self.base.symbols() | self.exponent.symbols()


def _flat(values) -> list:
    """The arguments of an aggregate (SUM, PRODUCT, ...), a range's cells spread out."""
    out = []
    for v in values:
        out.extend(v if isinstance(v, tuple) else (v,))
    return out


def _if(condition, then=1.0, otherwise=0.0):
    return np.where(np.asarray(condition) != 0, then, otherwise)


def _log(x, base=10.0):
    return np.log(x) / np.log(base)


def _round(x, digits=0):
    """ROUND keeps the value a formula rounds (to 10 decimals, say): rounding is how a cell shows its
    value, not what it computes, and a random point's value needs no rounding to be compared."""
    return np.asarray(x, dtype=np.float64)


def _array(*cells):
    return tuple(cells)


def _comparison(op):
    return lambda a, b: np.where(op(np.asarray(a), np.asarray(b)), 1.0, 0.0)


# name -> its numpy form; `spread`: its arguments may be ranges, read as one list of cells.
FUNCTIONS: dict[str, tuple[Callable, bool]] = {
    "EXP": (np.exp, False),
    "LN": (np.log, False),
    "LOG": (_log, False),
    "LOG10": (np.log10, False),
    "SQRT": (np.sqrt, False),
    "ABS": (np.abs, False),
    "TANH": (np.tanh, False),
    "POWER": (np.power, False),
    "ROUND": (_round, False),
    "IF": (_if, False),
    "SUM": (lambda *a: sum(_flat(a)), True),
    "PRODUCT": (lambda *a: np.prod(np.broadcast_arrays(*_flat(a)), axis=0), True),
    "SUMSQ": (lambda *a: sum(np.square(x) for x in _flat(a)), True),
    "MAX": (lambda *a: np.max(np.broadcast_arrays(*_flat(a)), axis=0), True),
    "MIN": (lambda *a: np.min(np.broadcast_arrays(*_flat(a)), axis=0), True),
    "AVERAGE": (lambda *a: sum(_flat(a)) / len(_flat(a)), True),
    "SUMPRODUCT": (
        lambda *a: sum(np.prod(np.broadcast_arrays(*c), axis=0) for c in zip(*a, strict=True)),
        True,
    ),
    "ARRAY": (_array, True),  # a range: its cells, for the function it is passed to
    ">": (_comparison(np.greater), False),
    ">=": (_comparison(np.greater_equal), False),
    "<": (_comparison(np.less), False),
    "<=": (_comparison(np.less_equal), False),
    "=": (_comparison(np.equal), False),
    "<>": (_comparison(np.not_equal), False),
}
COMPARISONS = (">", ">=", "<", "<=", "=", "<>")


@dataclass(frozen=True)
class Call(Expr):
    """A spreadsheet function (EXP, SUM, IF, ...) or a comparison, from FUNCTIONS."""

    name: str
    args: tuple[Expr, ...]

    def compile(self, act):
        fn = FUNCTIONS[self.name][0]
        args = [a.compile(act) for a in self.args]
        return lambda env: fn(*(a(env) for a in args))

    def latex(self, act, values=None):
        if self.name in COMPARISONS:
            left, right = (a.latex(act, values) for a in self.args)
            return f"{left} {self.name} {right}"
        inner = ", ".join(a.latex(act, values) for a in self.args)
        return rf"\operatorname{{{self.name}}}\left({inner}\right)"

    def excel(self, act, ref, formulas):
        if self.name in COMPARISONS:
            left, right = (a.excel(act, ref, formulas) for a in self.args)
            return f"{left}{self.name}{right}"
        return f"{self.name}({','.join(a.excel(act, ref, formulas) for a in self.args)})"

    def source(self, act):
        raise ValueError(
            f"{self.name} is a spreadsheet function: a checked formula is evaluated, never compiled"
        )

    def symbols(self):
        return set().union(*(a.symbols() for a in self.args))


def transform(expr: Expr, change: Callable[[Expr], Expr | None]) -> Expr:
    """`expr` with each node replaced by change(node) where that is not None, from the root down: a
    replaced node is not looked into again (so a slope can be replaced whole before its symbols are).
    The one walk over a tree's children: inline() and backprop_core.mistakes' surgery both use it."""
    changed = change(expr)
    if changed is not None:
        return changed
    if not is_dataclass(expr):
        return expr
    updates = {}
    for f in fields(expr):
        value = getattr(expr, f.name)
        if isinstance(value, Expr):
            updates[f.name] = transform(value, change)
        elif isinstance(value, tuple) and all(isinstance(item, Expr) for item in value):
            updates[f.name] = tuple(transform(item, change) for item in value)
    return replace(expr, **updates)


def inline(expr: Expr, formulas: Mapping[str, Expr], names: tuple[str, ...]) -> Expr:
    """`expr` with every symbol in `names` replaced by its own formula, recursively.

    The step-through page uses it to write a chain out: dE_dw1 = delta_h1 * i1 becomes
    dE_da_h1 * slope(h1) * i1, then (delta_o1 * w5 + delta_o2 * w7) * slope(h1) * i1.
    """

    def change(node: Expr) -> Expr | None:
        if isinstance(node, Sym) and node.name in names:
            return inline(formulas[node.name], formulas, names)
        return None

    return transform(expr, change)
