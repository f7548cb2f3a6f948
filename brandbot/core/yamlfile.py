"""YAML files that remember where every key came from.

Community managers edit the YAML by hand; when something is wrong they need the file,
the line and what to change, not a traceback. ``load_yaml`` uses PyYAML's safe loader
and keeps the line of every key path from the composed node tree, and
``validation_error`` turns a pydantic ``ValidationError`` into one ConfigError that
points at those lines and suggests the key that was probably meant.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from brandbot.core.errors import ConfigError

Loc = tuple[str | int, ...]

#: libyaml's parser when PyYAML was built with it (same safe constructor, same marks), else
#: the pure-Python one. Both compose the node tree that gives us line numbers.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: How many pydantic errors one ConfigError lists before summarising the rest.
MAX_ERRORS = 5


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML file: its data and the 1-based line of every key path in it.

    ``lines[("rules", 3, "match")]`` is the line of the ``match:`` key of the fourth rule;
    list items map to the line where the item starts. ``value_lines`` gives the line on
    which a scalar value's text begins (the line after ``|`` for block scalars), which is
    what a template error inside the value needs.
    """

    data: Any
    path: Path
    lines: Mapping[Loc, int]
    value_lines: Mapping[Loc, int] = field(default_factory=dict, compare=False)

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of the deepest known prefix of ``loc``, or None if nothing is known."""
        loc = tuple(loc)
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None

    def where(self, loc: Sequence[str | int] = ()) -> str:
        """ "file:line" for the deepest known prefix of ``loc``; just "file" if none is known."""
        line = self.line_of(loc)
        return f"{self.path}:{line}" if line is not None else str(self.path)

    def value_where(self, loc: Sequence[str | int]) -> str:
        """ "file:line" of the first line of a scalar value's text (falls back to :meth:`where`)."""
        line = self.value_lines.get(tuple(loc))
        return f"{self.path}:{line}" if line is not None else self.where(loc)


def load_yaml(path: Path, *, expected_by: str = "") -> YamlDoc:
    """Read and parse a YAML file with the safe loader, tracking the line of every key.

    ``expected_by`` says who asked for the file (e.g. "brandbot.yaml:12"), so a missing
    file can be reported where it was referenced.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"file not found: {path}; looked for {path.resolve()}. "
            "Check the spelling, or that the path is relative to the file that names it.",
            expected_by,
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, expected a YAML file", expected_by) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8", expected_by
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", expected_by) from None
    return load_yaml_text(text, path)


def load_yaml_text(text: str, path: Path) -> YamlDoc:
    """Parse YAML text as if it were the file ``path`` (used by tests and by ``load_yaml``)."""
    path = Path(path)
    try:
        return _parse(text, path, _SafeLoader)
    except yaml.MarkedYAMLError as exc:
        error = exc
        if _SafeLoader is not yaml.SafeLoader:
            # libyaml's messages are terser ("found character that cannot start any
            # token"); errors are rare, so ask the pure-Python parser to explain.
            try:
                _parse(text, path, yaml.SafeLoader)
            except yaml.MarkedYAMLError as detailed:
                error = detailed
        raise _syntax_error(error, path) from None
    except yaml.YAMLError as exc:  # unmarked errors are rare (e.g. bad stream encoding)
        raise ConfigError(f"YAML error: {exc}", str(path)) from None


def _parse(text: str, path: Path, loader_class: type[yaml.SafeLoader]) -> YamlDoc:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDoc(None, path, {}, {})
        _check_duplicate_keys(node, path, loader)
        data = loader.construct_document(node)
        lines: dict[Loc, int] = {}
        value_lines: dict[Loc, int] = {}
        _index_lines(node, (), lines, value_lines, loader)
    finally:
        loader.dispose()
    return YamlDoc(data, path, lines, value_lines)


# -- line tracking ------------------------------------------------------------------------


def _key_of(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    """The key as the safe loader constructs it (str, int, ...); None for non-scalar keys."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    return loader.construct_object(node)  # a scalar needs no document state


def _index_lines(
    node: yaml.Node,
    loc: Loc,
    lines: dict[Loc, int],
    value_lines: dict[Loc, int],
    loader: yaml.SafeLoader,
) -> None:
    if isinstance(node, yaml.ScalarNode):
        block = node.style in ("|", ">")
        value_lines[loc] = node.start_mark.line + 1 + (1 if block else 0)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.setdefault((*loc, index), item.start_mark.line + 1)
            _index_lines(item, (*loc, index), lines, value_lines, loader)
    elif isinstance(node, yaml.MappingNode):
        # Merge keys ("<<") are already flattened here: merged pairs come first and the
        # explicit ones after them, so plain assignment lets an explicit key win, as in the data.
        for key_node, value_node in node.value:
            key = _key_of(key_node, loader)
            if key is None:
                continue
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _index_lines(value_node, (*loc, key), lines, value_lines, loader)


def _check_duplicate_keys(node: yaml.Node, path: Path, loader: yaml.SafeLoader) -> None:
    """PyYAML silently keeps the last of two equal keys; a hand-edited file wants an error."""
    stack = [node]
    seen_nodes: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen_nodes:  # aliases share nodes
            continue
        seen_nodes.add(id(current))
        if isinstance(current, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, value_node in current.value:
                stack.append(value_node)
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = _key_of(key_node, loader)
                if key is None:
                    continue
                line = key_node.start_mark.line + 1
                if key in first:
                    raise ConfigError(
                        f"duplicate key {key!r} (first at line {first[key]}); "
                        "YAML would silently keep only the last one, remove or rename one of them",
                        f"{path}:{line}",
                    )
                first[key] = line
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


_HINTS = (
    ("cannot start any token", "'\\t'", "YAML does not allow tabs for indentation; use spaces"),
    ("mapping values are not allowed", "", "a value that contains ': ' must be put in quotes"),
    ("could not find expected ':'", "", "a key is missing its ':', or a quote is not closed"),
    ("expected ',' or ']'", "", "a '[' list is not closed with ']', or an item needs quotes"),
    ("expected ',' or '}'", "", "a '{' mapping is not closed with '}', or a value needs quotes"),
    ("found unexpected end of stream", "", "a quoted string is not closed"),
    ("expected <block end>", "", "the indentation of this line does not match the lines above it"),
    (
        "found undefined alias",
        "",
        "a '*name' refers to an anchor '&name' that is not defined above",
    ),
    ("could not determine a constructor", "", "custom '!' tags are not allowed; remove the tag"),
)


def _syntax_error(exc: yaml.MarkedYAMLError, path: Path) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
    problem = (exc.problem or "invalid YAML").strip()
    parts = [f"YAML syntax error: {problem}"]
    if mark is not None:
        parts[0] += f" (column {mark.column + 1})"
    if exc.context:
        context = exc.context.strip()
        if exc.context_mark is not None and mark is not None and exc.context_mark.line != mark.line:
            context += f" that starts at line {exc.context_mark.line + 1}"
        parts.append(context)
    for needle, extra, hint in _HINTS:
        if needle in problem and extra in problem:
            parts.append(f"hint: {hint}")
            break
    return ConfigError("; ".join(parts), where)


# -- pydantic errors -> ConfigError --------------------------------------------------------


def validation_error(
    doc: YamlDoc,
    err: ValidationError,
    prefix: Sequence[str | int] = (),
    *,
    model: type[BaseModel] | None = None,
    error_cls: type[ConfigError] = ConfigError,
) -> ConfigError:
    """One clear ConfigError (of ``error_cls``) for a pydantic error, pointing at file:line.

    ``prefix`` is where the validated data sits in the document (e.g. ``("rules", 3)``).
    ``model`` is the model that was validated, used to suggest the key that was meant
    for unknown keys; when omitted it is looked up by the error's title.
    """
    prefix = tuple(prefix)
    model = model or _model_named(err.title)
    data = _data_at(doc.data, prefix)
    problems: dict[Loc, _Problem] = {}
    for detail in err.errors(include_url=False):
        raw_loc = tuple(detail.get("loc", ()))
        kind = detail.get("type", "")
        loc = _data_loc(data, raw_loc, kind)
        full = (*prefix, *loc)
        problem = problems.setdefault(full, _Problem(doc.where(full), full))
        problem.add(detail, loc, model, branch=len(loc) < len(raw_loc) and kind != "missing")
    # A union ("text or a list of text") fails once per branch; when one branch got
    # deeper into the data, its error is the one that explains the problem.
    kept = [
        p
        for p in problems.values()
        if not (
            p.branch
            and any(
                len(q.loc) > len(p.loc) and q.loc[: len(p.loc)] == p.loc for q in problems.values()
            )
        )
    ]
    messages = [(p.where, p.message()) for p in kept]
    first_where, first_message = messages[0]
    lines = [first_message]
    for where, message in messages[1:MAX_ERRORS]:
        lines.append(f"  {where}: {message}")
    if len(messages) > MAX_ERRORS:
        lines.append(f"  ... and {len(messages) - MAX_ERRORS} more problem(s)")
    return error_cls("\n".join(lines), first_where)


@dataclass
class _Problem:
    """Everything pydantic said about one key path, merged into one message."""

    where: str
    loc: Loc
    whole: list[str] = field(default_factory=list)  # complete messages (unknown/missing key)
    reasons: list[str] = field(default_factory=list)  # "Input should be ..." parts
    got: str = ""
    branch: bool = False

    def add(
        self, detail: Mapping[str, Any], loc: Loc, model: type[BaseModel] | None, branch: bool
    ) -> None:
        self.branch = self.branch or branch
        kind = detail.get("type", "")
        if kind in ("extra_forbidden", "missing") and loc:
            message = _key_message(kind, self.loc, loc, model)
            if message not in self.whole:
                self.whole.append(message)
            return
        reason = str(detail.get("msg", "invalid value"))
        for noise in ("Value error, ", "Assertion failed, "):
            reason = reason.removeprefix(noise)
        if reason not in self.reasons:
            self.reasons.append(reason)
        if not self.got and kind not in ("value_error", "assertion_error") and "input" in detail:
            value = detail["input"]
            if not isinstance(value, Mapping | list):
                shown = repr(value)
                self.got = f" (got {shown[:60] + '...' if len(shown) > 60 else shown})"

    def message(self) -> str:
        parts = list(self.whole)
        if self.reasons:
            lead = "Input should be "
            if len(self.reasons) > 1 and all(r.startswith(lead) for r in self.reasons):
                reason = lead + " or ".join(r.removeprefix(lead) for r in self.reasons)
            else:
                reason = " or ".join(self.reasons)
            parts.append(f"{format_loc(self.loc)}: {reason}{self.got}")
        return "; ".join(parts)


def message_of(error: ConfigError) -> str:
    """The error's message without its leading "file:line: " (to list it under another)."""
    text = str(error)
    return text[len(error.where) + 2:] if error.where and text.startswith(error.where + ": ") else text


def combined_error(problems: Sequence[tuple[str, str] | ConfigError], shown: int = 10) -> ConfigError:
    """Every problem of one file in one error: the first names its file:line, the others
    follow one per line (at most ``shown``, then a count). A problem is (where, message)
    or a ConfigError of one entry."""
    listed = [(p.where, message_of(p)) if isinstance(p, ConfigError) else p for p in problems]
    (where, message), rest = listed[0], listed[1:]
    lines = [message, *(f"  {w}: {m}" for w, m in rest[:shown - 1])]
    if len(rest) > shown - 1:
        lines.append(f"  ... and {len(rest) - shown + 1} more problem(s)")
    return ConfigError("\n".join(lines), where)


def format_loc(loc: Sequence[str | int]) -> str:
    """("rules", 3, "match", "any", 0) -> "rules[3].match.any[0]"."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "the top level"


def _data_at(data: Any, loc: Loc) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _data_loc(data: Any, loc: Loc, kind: str) -> Loc:
    """Keep the parts of a pydantic loc that exist in the data.

    Pydantic adds union branch names ("str", "list[str]", "function-after[...]") to locs;
    they are not keys anyone wrote. A missing key is kept as the last part.
    """
    kept: list[str | int] = []
    current = data
    for i, part in enumerate(loc):
        if _contains(current, part):
            kept.append(part)
            current = current[part]
        elif i == len(loc) - 1 and kind == "missing" and isinstance(part, str):
            kept.append(part)
    return tuple(kept)


def _contains(container: Any, part: str | int) -> bool:
    if isinstance(container, Mapping):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def _key_message(kind: str, full: Loc, loc: Loc, model: type[BaseModel] | None) -> str:
    """The message for an unknown or a missing key, with a did-you-mean for unknown ones."""
    key = loc[-1]
    parent = format_loc(full[:-1])
    if kind == "missing":
        return f"missing required key {key!r} in {parent}; add it"
    message = f"unknown key {key!r} in {parent}"
    allowed = _allowed_keys(model, loc[:-1])
    if allowed:
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {close[0]!r}?"
        else:
            message += f"; allowed keys: {', '.join(allowed)}"
    return message


def _subclasses(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _model_named(title: str) -> type[BaseModel] | None:
    """The one BaseModel subclass with this name, if exactly one exists."""
    found = {c for c in _subclasses(BaseModel) if c.__name__ == title and "[" not in c.__name__}
    return found.pop() if len(found) == 1 else None


def _allowed_keys(model: type[BaseModel] | None, loc: Loc) -> list[str]:
    """The keys the (sub)model at ``loc`` accepts, by the names people write (aliases)."""
    target = _model_at(model, loc)
    if target is None:
        return []
    return [f.alias or name for name, f in target.model_fields.items()]


def _model_at(model: Any, loc: Loc) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if current is None:
            return None
        if isinstance(part, int):
            current = _item_type(current)
        elif isinstance(current, type) and issubclass(current, BaseModel):
            current = _field_type(current, part)
        else:
            current = _value_type(current)
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field_type(model: type[BaseModel], key: str) -> Any:
    for name, f in model.model_fields.items():
        if key in (name, f.alias):
            return f.annotation
    return None


def _unwrap(tp: Any) -> Any:
    """Strip Annotated/Optional; for other unions pick the branch that is a model or container."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            branches = [a for a in typing.get_args(tp) if a is not type(None)]
            structured = [
                a
                for a in branches
                if typing.get_origin(a) or isinstance(a, type) and issubclass(a, BaseModel)
            ]
            tp = (structured or branches or [None])[0]
        else:
            return tp


def _item_type(tp: Any) -> Any:
    if typing.get_origin(tp) in (list, tuple, set, frozenset, Sequence):
        args = typing.get_args(tp)
        return args[0] if args else None
    return None


def _value_type(tp: Any) -> Any:
    if typing.get_origin(tp) in (dict, Mapping):
        args = typing.get_args(tp)
        return args[1] if len(args) == 2 else None
    return None
