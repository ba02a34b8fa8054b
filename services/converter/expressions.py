"""Evaluation of the ClassAd expressions carried as "/Expr(text)/" in the raw ad.

Building a full ClassAd from a 200-attribute ad costs ~0.3 ms, more than the whole conversion budget,
so each expression is evaluated in a small ClassAd holding only the attributes it (transitively)
refers to. `time()` is replaced by the collection time, so an expression such as
`time() - EnteredCurrentStatus` gives the same value every time the same message is converted.
Integers are 64-bit, as in HTCondor: arithmetic wraps around as the schedd's own evaluation does, but an
integer literal beyond 64 bits (which the ClassAd parser silently reads as 0) makes the expression an error,
with a warning.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import classad2
import htcondor2  # noqa: F401  (see below)
import orjson

from services.common.raw_message import expression_text, is_expression
from services.converter import ratelimit
from services.converter.sanitize import TEXT_LIMIT_BYTES, clean_text
from services.converter.values import INT64_MAX, picker


class _ErrorValue:
    """Marker for a ClassAd `error` value: the attribute is dropped from the document."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ERROR"


# Importing htcondor2 loads HTCondor's configuration, which changes how the ClassAd library evaluates some
# functions (stringListMember(undefined, ...) is false with it and error without). The reference always ran
# with htcondor loaded; importing it here makes every process evaluate the same way, whatever else it imported.

ERROR = _ErrorValue()
_MISSING = object()

_TIME_CALL = re.compile(r"\btime\s*\(\s*\)", re.IGNORECASE)
# Attribute references: whole identifiers, not function calls ("name("), not attributes of the match
# candidate ("TARGET.name" is undefined when an ad is evaluated on its own, whatever the ad holds).
# Literal strings may yield harmless extras.
_IDENTIFIER = re.compile(r'(?<![A-Za-z0-9_"])(?<!TARGET\.)([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()', re.IGNORECASE)
_ERROR_TREE = classad2.ExprTree("error")
_PLAIN_TYPES = frozenset((bool, int, float, str))  # evaluation results passed through as they are
_CLOSURES_MAX = 256  # memoised closures (see JobAd.evaluate_together), keyed by roots and their texts
_CLOSURES_PER_KEY = 4  # ads with the same roots may refer to different attributes (ExitCode, once finished)
_KEYWORDS = frozenset(("true", "false", "undefined", "error", "is", "isnt", "target", "my", "parent"))
# Integer literals of 19 digits or more (shorter ones always fit 64 bits), not the digits of a real (1.5e30)
_LONG_INTEGER = re.compile(r"(?<![\w.])\d{19,}(?![\w.])")
_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
_TOO_BIG = classad2.ExprTree("error")  # _parse's tree of a text with an integer literal beyond 64 bits


@functools.lru_cache(maxsize=16384)
def _parse(text: str) -> tuple[classad2.ExprTree | None, tuple[str, ...]]:
    """Parsed expression and the attribute names it may refer to; None when it does not parse.

    A memo of a pure function (same text -> same tree), so it does not make conversion stateful.
    """
    try:
        tree = classad2.ExprTree(text)
    except Exception:  # classad2 raises its own exception type, not exported under a stable name
        return None, ()
    if _LONG_INTEGER.search(text) and _has_too_big_integer(text):
        return _TOO_BIG, ()
    names = (name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS)
    return tree, tuple(dict.fromkeys(names))


def _has_too_big_integer(text: str) -> bool:
    """Whether an integer literal outside the string literals exceeds 64 bits."""
    code = _STRING_LITERAL.sub('""', text)
    return any(int(digits) > INT64_MAX for digits in _LONG_INTEGER.findall(code))


@functools.lru_cache(maxsize=16384)
def _parse_value(value: str) -> tuple[classad2.ExprTree | None, tuple[str, ...]] | None:
    """_parse of a "/Expr(text)/" value; None when the text may call time(), whose value is the collection
    time of each message. A memo of a pure function, like _parse: it saves the slicing and the time() test
    of the ~7 expressions each evaluation walks through."""
    text = expression_text(value)
    if "time" in text or "TIME" in text or "Time" in text:
        return None if _TIME_CALL.search(text) else _parse(text)
    return _parse(text)


def _from_classad(value: Any) -> Any:
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, classad2.Value):
        return ERROR if value is classad2.Value.Error else None
    if isinstance(value, classad2.ClassAd):
        return orjson.loads(value.printJson())
    if isinstance(value, list):
        return [_from_classad(item) for item in value]
    return value


_SPELLINGS: dict[str, list[str]] = {}  # lower-case attribute name -> the spellings seen (see note_name)
_CLOSURES: dict[tuple[tuple[str, ...], tuple[Any, ...]], list[_Closure]] = {}  # JobAd.evaluate_together's memo


def note_name(name: str) -> None:
    """Record an attribute name seen in an ad. The copy notes every name of an ad (on first sight, with its copy
    plan) before it evaluates, which lets a memoised evaluation tell that an attribute its expressions refer to
    is absent in whatever case it could be spelled."""
    _SPELLINGS.setdefault(name.lower(), []).append(name)


def forget_names() -> None:
    """Forget the names noted (with the copy's own memo, which then notes them again)."""
    _SPELLINGS.clear()


class JobAd:
    """Read access to a raw ad with expressions evaluated on demand (and remembered for this ad)."""

    __slots__ = ("_lower", "_values", "now", "raw", "statistics", "text_limit")

    def __init__(self, raw: dict[str, Any], now: int, text_limit: int = TEXT_LIMIT_BYTES) -> None:
        self.raw = raw
        self.now = now
        self.text_limit = text_limit  # the converter's max_text_bytes, for the texts the rules derive (text())
        self.statistics: list[str] = []  # the ChirpCMSSW* fields the attribute copy wrote, in order
        self._values: dict[str, Any] = {}
        self._lower: dict[str, str] | None = None

    def __contains__(self, name: str) -> bool:
        return name in self.raw

    def get(self, name: str, default: Any = None) -> Any:
        """The evaluated value: literals as they are, undefined and error as None."""
        value = self.raw.get(name, _MISSING)
        if value is _MISSING:
            return default
        if is_expression(value):
            value = self.evaluate(name)
            return None if value is ERROR else value
        return value

    def text(self, name: str, default: Any) -> Any:
        """The value as text, for the rules that derive text from it: other values written out, then cut like a
        copied text (a list written out is longer than its texts; an expression's value was never cut)."""
        value = self.get(name)
        if value is None:
            return default
        return clean_text(name, value if isinstance(value, str) else str(value), self.text_limit)

    def evaluate(self, name: str) -> Any:
        """Value of an expression attribute; ERROR when it evaluates to (or cannot parse into) error."""
        if name not in self._values:
            self.evaluate_together((name,))
        return self._values[name]

    def evaluate_together(self, names: tuple[str, ...], memoise: bool = False) -> None:
        """Evaluate these expression attributes in one ClassAd holding everything any of them refers to.

        Why together: building the ClassAd costs as much as evaluating in it, and the expressions of a job
        ad share their references (Requirements -> RequestMemory -> MemoryUsage -> ResidentSetSize). Each
        value is the same as in a ClassAd of its own references only, since the others are not looked at.
        `memoise` (only for ads whose names were all noted, see note_name): the walk and the ClassAd are kept,
        keyed by the roots and their texts, for the next ad whose expressions and referred attributes are the
        same: only its literal values are then set. Ads of a schedd share a handful of expression texts.
        """
        values = self._values
        roots = tuple(dict.fromkeys(name for name in names if name not in values))
        if not roots:
            return
        raw = self.raw
        key = (roots, tuple(map(raw.__getitem__, roots))) if memoise else None
        for closure in _CLOSURES.get(key, ()) if memoise else ():
            if closure.matches(raw):
                try:
                    values.update(closure.evaluate(raw))
                    return
                except Exception:  # an attribute name classad2 refuses: as below
                    break
        scope, absent, timeless = self._scope(roots)
        try:
            ad = _classad(scope)
        except Exception:  # an attribute name classad2 refuses (e.g. with a NUL): nothing evaluates
            values.update((name, ERROR) for name in roots)
            return
        values.update((name, _evaluated(scope[name], ad)) for name in roots)
        if memoise and timeless:
            if len(_CLOSURES) >= _CLOSURES_MAX:
                _CLOSURES.clear()
            kept = _CLOSURES.setdefault(key, [])
            if len(kept) >= _CLOSURES_PER_KEY:
                del kept[0]
            kept.append(_Closure(roots, scope, absent, raw))

    def _scope(self, roots: tuple[str, ...]) -> tuple[dict[str, Any], tuple[str, ...], bool]:
        """The attributes the roots refer to, transitively: expressions as parsed trees, literals as values; the
        names referred to that the ad does not have (lower case); and whether the walk can be memoised: no
        expression depended on the collection time (time() calls) and every name was found as spelled."""
        raw = self.raw
        scope: dict[str, Any] = {}
        absent: list[str] = []
        timeless = True
        pending = list(roots)
        while pending:
            key = pending.pop()
            if key in scope:
                continue
            value = raw[key]
            if is_expression(value):
                parsed = _parse_value(value)
                if parsed is None:
                    timeless, parsed = False, self._timed_tree(value)
                sub_tree, identifiers = parsed
                if sub_tree is _TOO_BIG:  # not memoised, so that each such ad is warned about
                    timeless = False
                    warning = f"{key}: integer literal beyond 64 bits in {value:.100}; evaluated as error"
                    ratelimit.warn("overflow", key, warning)
                scope[key] = sub_tree if sub_tree is not None else _ERROR_TREE
                for identifier in identifiers:
                    found = identifier if identifier in raw else self._key(identifier)
                    if found is None:
                        absent.append(identifier.lower())
                    elif found != identifier:
                        timeless = False  # found in another case: the memo checks names as spelled
                    if found is not None and found not in scope:
                        pending.append(found)
            else:
                scope[key] = classad2.Value.Undefined if value is None else value
        return scope, tuple(dict.fromkeys(absent)), timeless

    def _key(self, identifier: str) -> str | None:
        """The attribute an identifier not spelled exactly as in the ad names: ClassAd names ignore case."""
        if self._lower is None:
            self._lower = {key.lower(): key for key in self.raw}
        return self._lower.get(identifier.lower())

    def _timed_tree(self, value: str) -> tuple[classad2.ExprTree | None, tuple[str, ...]]:
        """_parse of an expression calling time(), with this message's collection time in its place."""
        return _parse(_TIME_CALL.sub(str(self.now), expression_text(value)))


def _evaluated(tree: Any, ad: classad2.ClassAd) -> Any:
    """A root's value: its own tree evaluated in the scope ad (cheaper than ad.eval(name), which first copies
    the tree out of the ad); ERROR when the expression does not parse or the evaluation fails."""
    if tree is _ERROR_TREE:
        return ERROR
    try:
        return _from_classad(tree.eval(ad))
    except Exception:
        return ERROR


class _Closure:
    """The evaluation of some roots, worked out on a first ad: which attributes hold which expression texts, which
    hold literals, which names are absent, and a ClassAd already holding the expressions. An ad with the same
    texts and names only has its literals written into that ClassAd (all of them, every time, so nothing of the
    previous ad remains) before the roots are evaluated."""

    __slots__ = ("absent", "literals", "read_literals", "read_texts", "roots", "template", "texts")

    def __init__(self, roots: tuple[str, ...], scope: dict[str, Any], absent: tuple[str, ...], raw: dict) -> None:
        expressions = tuple(key for key, value in scope.items() if isinstance(value, classad2.ExprTree))
        self.literals = tuple(key for key in scope if key not in expressions)
        self.texts = tuple(raw[key] for key in expressions)
        self.read_texts, self.read_literals = picker(expressions), picker(self.literals)
        self.absent = absent
        self.roots = tuple((name, scope[name]) for name in roots)
        self.template = _classad({key: scope[key] for key in expressions})

    def matches(self, raw: dict[str, Any]) -> bool:
        try:
            if self.read_texts(raw) != self.texts:
                return False
            literals = self.read_literals(raw)
        except KeyError:  # an attribute referred to is absent here
            return False
        if any(map(is_expression, literals)):
            return False
        return not any(spelling in raw for name in self.absent for spelling in _SPELLINGS.get(name, ()))

    def evaluate(self, raw: dict[str, Any]) -> list[tuple[str, Any]]:
        ad = self.template
        for key, value in zip(self.literals, self.read_literals(raw), strict=True):
            try:
                ad[key] = classad2.Value.Undefined if value is None else value
            except Exception:  # a literal classad2 cannot hold: undefined, as in _classad
                ad[key] = classad2.Value.Undefined
        return [(name, _evaluated(tree, ad)) for name, tree in self.roots]


def _classad(scope: dict[str, Any]) -> classad2.ClassAd:
    """The scope as a ClassAd in one call; a literal classad2 cannot hold (e.g. a deeply odd JSON value)
    makes the whole call fail, and then only that attribute becomes undefined."""
    try:
        return classad2.ClassAd(scope)
    except Exception:  # classad2 raises SystemError/TypeError/ValueError depending on the value
        pass
    ad = classad2.ClassAd()
    for key, value in scope.items():
        try:
            ad[key] = value
        except Exception:
            ad[key] = classad2.Value.Undefined
    return ad
