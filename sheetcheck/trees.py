"""An Excel formula read into backprop_core's expression tree (never Python's eval).

    to_tree("=1/(1+EXP(-H5))", resolve)   -> Div(Num(1), Add((Num(1), Call("EXP", (Neg(<H5>),)))))

openpyxl's tokenizer splits the formula; a small recursive-descent parser, with Excel's precedences,
builds the tree. Every reference is handed to `resolve`, which returns the tree that stands for it
(a quantity's Sym, a helper cell's own tree inlined, a constant): sheetcheck/meaning.py decides that.
A range becomes Call("ARRAY", cells), which SUM, PRODUCT, SUMPRODUCT ... spread out.
"""

from __future__ import annotations

from collections.abc import Callable

from openpyxl.formula.tokenizer import Token, Tokenizer

from backprop_core.expr import COMPARISONS, FUNCTIONS, Add, Call, Div, Expr, Mul, Neg, Num, Pow, Sub

from .parse import MAX_FORMULA_CHARS, UNSUPPORTED_FUNCTIONS, FormulaError

Resolve = Callable[[str], Expr]  # an operand's text ("E33", "'S 2'!$A$1:B2", a name) -> its tree

MAX_NODES = 2_000  # a formula's tokens: Excel's 8,192 characters hold at most a few thousand


def to_tree(text: str, resolve: Resolve) -> Expr:
    """The tree of formula `text` (with its leading "="); FormulaError if the checker cannot read it."""
    if len(text) > MAX_FORMULA_CHARS:
        raise FormulaError(f"a formula of {len(text)} characters is longer than Excel allows")
    try:
        tokens = [t for t in Tokenizer(text).items if t.type != Token.WSPACE]
    except Exception as error:
        raise FormulaError(f"cannot parse {text}: {error}") from None
    if len(tokens) > MAX_NODES:
        raise FormulaError("a formula too long to check")
    parser = _Parser(tokens, resolve)
    tree = parser.expression()
    if parser.i != len(tokens):
        raise FormulaError(f"cannot parse {text}: unexpected {tokens[parser.i].value!r}")
    return tree


class _Parser:
    """Excel's precedences, loosest first: comparisons, + and -, * and /, ^, unary minus, %."""

    def __init__(self, tokens: list, resolve: Resolve):
        self.tokens, self.resolve, self.i = tokens, resolve, 0

    def peek(self, *types: str) -> Token | None:
        token = self.tokens[self.i] if self.i < len(self.tokens) else None
        return token if token is not None and token.type in types else None

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expression(self) -> Expr:
        left = self.additive()
        while (t := self.peek(Token.OP_IN)) and t.value in COMPARISONS:
            self.take()
            left = Call(t.value, (left, self.additive()))
        return left

    def additive(self) -> Expr:
        terms = [self.term()]
        while (t := self.peek(Token.OP_IN)) and t.value in "+-":
            self.take()
            right = self.term()
            if t.value == "+":
                terms.append(right)
            else:
                terms = [Sub(terms[0] if len(terms) == 1 else Add(tuple(terms)), right)]
        return terms[0] if len(terms) == 1 else Add(tuple(terms))

    def term(self) -> Expr:
        left = self.power()
        while (t := self.peek(Token.OP_IN)) and t.value in "*/":
            self.take()
            right = self.power()
            if t.value == "/":
                left = Div(left, right)
            else:
                left = Mul((*left.factors, right)) if isinstance(left, Mul) else Mul((left, right))
        return left

    def power(self) -> Expr:
        left = self.unary()
        while (t := self.peek(Token.OP_IN)) and t.value == "^":
            self.take()
            left = Pow(left, self.unary())
        return left

    def unary(self) -> Expr:
        if t := self.peek(Token.OP_PRE):
            self.take()
            arg = self.unary()
            return Neg(arg) if t.value == "-" else arg
        value = self.primary()
        while self.peek(Token.OP_POST):  # 5% is 0.05
            self.take()
            value = Div(value, Num(100.0))
        return value

    def primary(self) -> Expr:
        if self.i >= len(self.tokens):
            raise FormulaError("the formula ends too soon")
        t = self.take()
        if t.type == Token.OPERAND:
            if t.subtype == Token.NUMBER:
                return Num(float(t.value))
            if t.subtype == Token.RANGE:
                return self.resolve(t.value)
            if t.subtype == Token.LOGICAL:
                return Num(1.0 if t.value.upper() == "TRUE" else 0.0)
            raise FormulaError(f"{t.value} is not a number")
        if t.type == Token.PAREN and t.subtype == Token.OPEN:
            inner = self.expression()
            self.close(Token.PAREN)
            return inner
        if t.type == Token.FUNC and t.subtype == Token.OPEN:
            name = t.value.rstrip("(").upper().removeprefix("_XLFN.")
            if name in UNSUPPORTED_FUNCTIONS:
                raise FormulaError(f"the function {name} is not computed by the checker")
            if name not in FUNCTIONS or name == "ARRAY" or name in COMPARISONS:
                raise FormulaError(f"the function {name} is not one the checker computes")
            args = []
            if not (self.peek(Token.FUNC) and self.tokens[self.i].subtype == Token.CLOSE):
                args.append(self.expression())
                while (s := self.peek(Token.SEP)) and s.subtype == Token.ARG:
                    self.take()
                    args.append(self.expression())
            self.close(Token.FUNC)
            if not FUNCTIONS[name][1] and any(isinstance(a, Call) and a.name == "ARRAY" for a in args):
                raise FormulaError(f"{name} of a range is not a number")
            return Call(name, tuple(args))
        raise FormulaError(f"unexpected {t.value!r}")

    def close(self, kind: str) -> None:
        t = self.peek(kind)
        if t is None or t.subtype != Token.CLOSE:
            raise FormulaError("a bracket is not closed")
        self.take()
