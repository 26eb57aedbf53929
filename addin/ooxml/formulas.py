"""Formulas as Excel stores them in a file.

Excel shows ``=LET(x, UNIQUE(A:A), ROWS(x))`` but stores
``_xlfn.LET(_xlpm.x,_xlfn.UNIQUE(A:A),ROWS(_xlpm.x))``: functions newer than
Excel 2007 carry the ``_xlfn.`` prefix (FILTER and SORT ``_xlfn._xlws.``), and
the names a LET binds carry ``_xlpm.``. A file without them shows ``#NAME?``
in Excel. openpyxl writes a formula's text as given, so the recipes write
formulas as Excel shows them and ``stored_formula`` adds the prefixes, with
openpyxl's formula tokenizer telling function names, LET names, strings and
structured references apart. A test compares the result with what XlsxWriter
writes for the same formula.
"""

from __future__ import annotations

from openpyxl.formula.tokenizer import Token, Tokenizer

#: Functions added after Excel 2007, as Excel stores their names. Only
#: functions of Excel 2021 and later that the project may use are needed;
#: ``stored_formula`` refuses any other function it does not know.
FUTURE_FUNCTIONS: dict[str, str] = {
    name: "_xlfn." + name
    for name in (
        "CONCAT",
        "IFNA",
        "IFS",
        "LET",
        "MAXIFS",
        "MINIFS",
        "NUMBERVALUE",
        "SEQUENCE",
        "SORTBY",
        "SWITCH",
        "TEXTJOIN",
        "UNIQUE",
        "XLOOKUP",
        "XMATCH",
        "XOR",
    )
} | {"FILTER": "_xlfn._xlws.FILTER", "SORT": "_xlfn._xlws.SORT"}

#: Functions of Excel 2007 that the project's formulas use (stored as shown).
CLASSIC_FUNCTIONS = frozenset(
    {
        "AND",
        "DATE",
        "DAY",
        "EDATE",
        "FREQUENCY",
        "IF",
        "IFERROR",
        "INDEX",
        "INT",
        "ISERROR",
        "ISNA",
        "ISNUMBER",
        "MATCH",
        "MAX",
        "MIN",
        "MMULT",
        "MOD",
        "MONTH",
        "NA",
        "NOT",
        "OR",
        "ROW",
        "ROWS",
        "SMALL",
        "SUM",
        "TRANSPOSE",
        "TRIM",
        "YEAR",
    }
)


class FormulaError(ValueError):
    """A formula that the project cannot store as Excel would."""


def _let_names(tokens: list[Token]) -> list[tuple[int, int, set[str]]]:
    """Each LET's token span (first, last index) and the names it binds.

    A LET's arguments alternate name, value, name, value... and end with its
    result: a name is an operand standing alone at an even argument before
    the last one.
    """
    spans = []
    # Per open call or parenthesis: (its token index, argument number, (token
    # index, argument number) of each lone operand at an even argument).
    stack: list[tuple[int, int, list[tuple[int, int]]]] = []
    for index, token in enumerate(tokens):
        if token.subtype == Token.OPEN:
            stack.append((index, 0, []))
        elif not stack:
            continue
        elif token.type == Token.SEP and token.subtype == Token.ARG:
            opened, argument, names = stack[-1]
            stack[-1] = (opened, argument + 1, names)
        elif token.type == Token.OPERAND and token.subtype == Token.RANGE:
            _, argument, names = stack[-1]
            before, after = tokens[index - 1], tokens[min(index + 1, len(tokens) - 1)]
            alone = before.type in (Token.FUNC, Token.SEP) and after.type in (Token.FUNC, Token.SEP)
            if argument % 2 == 0 and alone:
                names.append((index, argument))
        elif token.subtype == Token.CLOSE:
            opened, last, names = stack.pop()
            if tokens[opened].value.upper() == "LET(":
                bound = {tokens[i].value.upper() for i, argument in names if argument < last}
                spans.append((opened, index, bound))
    return spans


def stored_formula(shown: str) -> str:
    """The text Excel stores for a formula shown as ``shown`` (with or without "=")."""
    text = shown if shown.startswith("=") else "=" + shown
    tokens = Tokenizer(text).items
    spans = _let_names(tokens)
    out = []
    for index, token in enumerate(tokens):
        value = token.value
        if token.type == Token.FUNC and token.subtype == Token.OPEN:
            name = value[:-1].upper()
            if name in FUTURE_FUNCTIONS:
                value = FUTURE_FUNCTIONS[name] + "("
            elif name not in CLASSIC_FUNCTIONS:
                raise FormulaError(
                    f"formula {shown!r} calls {name}, which the project does not know how "
                    "Excel stores; add it to FUTURE_FUNCTIONS or CLASSIC_FUNCTIONS"
                )
        elif (
            token.type == Token.OPERAND
            and token.subtype == Token.RANGE
            and any(first < index < last and value.upper() in names for first, last, names in spans)
        ):
            value = "_xlpm." + value
        out.append(value)
    return "".join(out)


_PREFIXES = ("_xlfn._xlws.", "_xlfn.", "_xlpm.")


def shown_formula(stored: str) -> str:
    """A formula as Excel shows it (and Office.js takes it), from the form
    ``stored_formula`` gives: the prefixes outside strings removed.

    >>> shown_formula('_xlfn.LET(_xlpm.x,_xlfn._xlws.FILTER(A:A,A:A>0),IF(_xlpm.x="_xlfn.",1,2))')
    'LET(x,FILTER(A:A,A:A>0),IF(x="_xlfn.",1,2))'
    """
    parts = stored.split('"')
    # Even parts are outside string literals ("" inside a string splits into an empty odd part).
    for index in range(0, len(parts), 2):
        for prefix in _PREFIXES:
            parts[index] = parts[index].replace(prefix, "")
    return '"'.join(parts)
