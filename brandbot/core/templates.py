"""Reply templates: Jinja2 in a sandbox, strict about unknown variables.

Templates come from the community manager's YAML and from plugins. Values come from
people on the internet. Two rules keep that safe:

- People's text (names, messages) is only ever *data* passed to a template, never
  template source, so "{{ config }}" as a display name prints as "{{ config }}".
- Templates run in Jinja's ``SandboxedEnvironment`` (no ``__class__`` tricks, bounded
  ranges and repetition) with ``StrictUndefined``, so a misspelt variable is an error,
  caught by ``TemplateEngine.check`` when the rules are loaded (``brandbot check``)
  rather than when the first follower writes in.

Autoescape is off for the template's own text (the brand's markup is meant), but what
people wrote (their name, handle, words, group titles) is escaped for the markup of the
network the reply goes to, in :func:`build_context`: on Discord a display name like
``[Free Nitro](https://evil.test)`` must not become a masked link posted by the brand.
Telegram and X replies are sent as plain text, where nothing needs escaping.
"""

from __future__ import annotations

import difflib
import re
import string
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import jinja2
from jinja2 import StrictUndefined, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from brandbot.core.errors import TemplateError
from brandbot.core.events import Conversation, Event, Kind, Person
from brandbot.core.fastinit import fast_init
from brandbot.core.records import FollowerRecord

#: Longest string or list a template may build with '*' (e.g. "{{ '=' * 40 }}" is fine).
MAX_REPEAT = 10_000
#: Compiled Jinja templates kept per source text, so a plugin's ``ctx.reply("...")``
#: compiles its text once rather than on every event.
COMPILE_CACHE_SIZE = 1024
#: Largest exponent a template may use with '**'.
MAX_EXPONENT = 100
#: Loop iterations and calls (macros, methods, functions) one rendering may make: plenty
#: for a reply, and a nested ``range(100000)`` loop or an endless recursion stops at once.
MAX_STEPS = 10_000
#: Longest text one rendering may produce, or build on the way ('~', '+', '%', format,
#: center...): far above any network's message length, far below what hurts memory.
MAX_OUTPUT = 100_000

_WHERE_LINE = re.compile(r"^(.*):(\d+)$")
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined")
_MISSING_ATTR = re.compile(r"^'(.+)' has no attribute '([^']+)'")


# -- the variables a template can use -------------------------------------------------------


@dataclass(frozen=True)
class FollowerView:
    """What a template sees of the follower (``{{ follower.points }}``)."""

    id: int
    name: str
    first_seen: datetime
    last_seen: datetime
    days_known: int
    interactions: int
    mentions: int
    replies: int
    reposts: int
    quotes: int
    points: int
    tier: str
    streak: int
    tags: list[str] = field(hash=False)
    notes: str
    first_contact: bool


@dataclass(frozen=True)
class EventView:
    """What a template sees of the event (``{{ event.text }}``).

    ``conversation`` is the chat's title when the network gives one, else its id.
    """

    kind: str
    text: str
    network: str
    conversation: str
    private: bool
    command: str
    args: list[str] = field(hash=False)
    refers_to: str


FOLLOWER_FIELDS = tuple(f.name for f in fields(FollowerView))
EVENT_FIELDS = tuple(f.name for f in fields(EventView))
DEFAULT_BRAND: Mapping[str, Any] = {"name": "Our Brand", "url": "https://example.com"}


# -- people's text in the network's markup --------------------------------------------------

#: A link as Discord's client finds one; kept whole (a backslash inside a URL breaks it).
_DISCORD_URL = re.compile(r"<[^: >]+:/[^ >]+>|(?:https?|steam)://[^\s<]+[^<.,:;\"'\]\s]")
#: Markdown anywhere in a line: emphasis, strike, code, spoilers, masked links' brackets.
#: A single '_' inside a word ("eve_dc") cannot start or end emphasis and is left alone
#: (Discord's word boundaries are ASCII, so only ASCII letters and digits count as inside).
_DISCORD_INLINE = re.compile(r"[\\*~`|\[\]]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
#: Markdown at the start of a line (or of the value): headers, subtext, quotes, lists.
_DISCORD_LINE_START = re.compile(r"^([ \t]*)([#>-])", re.MULTILINE)


def _escape_discord(text: str) -> str:
    """Discord markdown shown as typed: a backslash before each character that would format."""
    if not text:
        return text
    out: list[str] = []
    last = 0
    for link in _DISCORD_URL.finditer(text):
        out.append(_escape_discord_words(text[last:link.start()]))
        out.append(link.group())
        last = link.end()
    out.append(_escape_discord_words(text[last:]))
    return "".join(out)


def _escape_discord_words(text: str) -> str:
    text = _DISCORD_INLINE.sub(lambda m: "\\" + m.group(), text)
    return _DISCORD_LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)


#: Networks whose messages are parsed as markup, and how to show text there as typed.
#: Telegram (no parse mode), X and the console send plain text.
MARKUP_ESCAPES: Mapping[str, Callable[[str], str]] = {"discord": _escape_discord}


def _as_is(text: str) -> str:
    return text


def escape_markup(network: str, text: str) -> str:
    """``text`` as it should be written in a message on ``network`` to show as typed."""
    return MARKUP_ESCAPES.get(network, _as_is)(text)


def build_context(
    *,
    event: Event,
    follower: FollowerRecord,
    first_contact: bool,
    now: datetime,
    brand: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The variables of a reply template for one event; ``extra`` adds plugin variables.

    The keys are exactly those of :func:`sample_context` (plus ``extra``), so a template
    that passes ``check`` finds its variables at run time. What people wrote (names,
    handle, text, arguments, the chat's title) is escaped for the event network's markup.
    """
    author = event.author
    escape = MARKUP_ESCAPES.get(event.network, _as_is)
    context: dict[str, Any] = {
        "name": escape(author.display),
        "handle": escape(author.handle),
        "network": event.network,
        "brand": dict(brand),
        "follower": FollowerView(
            id=follower.id,
            name=escape(follower.name),
            first_seen=follower.first_seen,
            last_seen=follower.last_seen,
            days_known=max(0, (now - follower.first_seen).days),
            interactions=follower.interactions,
            mentions=follower.mentions,
            replies=follower.replies,
            reposts=follower.reposts,
            quotes=follower.quotes,
            points=follower.points,
            tier=follower.tier,
            streak=follower.streak,
            tags=sorted(follower.tags),
            notes=follower.notes,
            first_contact=first_contact,
        ),
        "event": EventView(
            kind=str(event.kind),
            text=escape(event.text),
            network=event.network,
            conversation=escape(event.conversation.title) or event.conversation.id,
            private=event.conversation.private,
            command=event.command or "",
            args=[escape(a) for a in event.args],
            refers_to=event.refers_to or "",
        ),
        "now": now,
    }
    if extra:
        context.update(extra)
    return context


def sample_context(brand: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Realistic values for every documented variable, used to check templates at load time.

    Counts are non-zero so that arithmetic in templates ("points / interactions") does
    not fail on the sample when it would not fail on real data.
    """
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    person = Person(network="console", id="42", handle="ana", name="Ana Lima")
    event = Event(
        kind=Kind.MENTION,
        network="console",
        id="sample-1",
        author=person,
        conversation=Conversation(network="console", id="timeline", title="timeline"),
        text="@brand hello there",
        time=now,
        post_id="p2",
        refers_to="p1",
        addressed=True,
    )
    follower = FollowerRecord(
        id=1,
        name="Ana Lima",
        first_seen=now - timedelta(days=30),
        last_seen=now,
        interactions=12,
        mentions=5,
        replies=4,
        reposts=2,
        quotes=1,
        points=120,
        tier="Silver",
        streak=3,
        tags=frozenset({"newsletter"}),
        notes="met at the book fair",
    )
    return build_context(
        event=event,
        follower=follower,
        first_contact=False,
        now=now,
        brand=DEFAULT_BRAND if brand is None else brand,
    )


# -- filters and globals --------------------------------------------------------------------


def first_name(name: Any) -> str:
    """ "Ana Lima" -> "Ana"; an empty name stays empty."""
    parts = str(name).split()
    return parts[0] if parts else ""


def ordinal(number: Any) -> str:
    """1 -> "1st", 2 -> "2nd", 3 -> "3rd", 11 -> "11th", 22 -> "22nd", 113 -> "113th"."""
    n = int(number)
    if 10 <= abs(n) % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(abs(n) % 10, "th")
    return f"{n}{suffix}"


def plural(count: Any, singular: str, plural_form: str | None = None) -> str:
    """``plural(n, "point", "points")``: the word that fits the count (default: add "s")."""
    return singular if count == 1 else (plural_form if plural_form is not None else singular + "s")


class TemplateLimitError(SecurityError):
    """A rendering went past :data:`MAX_STEPS` or :data:`MAX_OUTPUT`."""


#: The steps left to the rendering in progress (set by ``_BoundedTemplate.render``).
_steps_left: ContextVar[list[int] | None] = ContextVar("brandbot_template_steps", default=None)

_TOO_MANY_STEPS = (
    f"the template ran more than {MAX_STEPS} loop iterations and calls "
    "(a loop or a recursion that is too long, or endless)"
)
#: Width and precision of a printf-style conversion ("%10s", "%.3f", "%*d").
_PRINTF_SIZES = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
#: Methods of str whose integer argument is the length of the result.
_STR_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def _step(count: int = 1) -> None:
    box = _steps_left.get()
    if box is not None:
        box[0] -= count
        if box[0] < 0:
            raise TemplateLimitError(_TOO_MANY_STEPS)


def _too_long(what: str) -> TemplateLimitError:
    return TemplateLimitError(f"{what} is too long (limit {MAX_OUTPUT} characters)")


def _sized(value: Any, what: str) -> Any:
    """``value``, unless it is a text or sequence longer than :data:`MAX_OUTPUT`."""
    if isinstance(value, str | list | tuple) and len(value) > MAX_OUTPUT:
        raise _too_long(what)
    return value


def _check_width(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_OUTPUT:
        raise TemplateLimitError(f"{what} {value} is too large (limit {MAX_OUTPUT})")


def _check_printf(template: Any, args: Any) -> None:
    """Refuse a '%' format whose widths would build a huge text."""
    if not isinstance(template, str):
        return
    for match in _PRINTF_SIZES.finditer(template):
        for size in match.groups():
            if size == "*":
                items = args if isinstance(args, tuple) else (args,)
                for item in items:
                    _check_width(item, "a '%*' width")
            elif size is not None:
                _check_width(int(size), "the format width")


def _check_format_spec(template: str) -> None:
    """Refuse a ``str.format`` template whose widths would build a huge text."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format reports it
    for _text, _name, spec, _conversion in fields:
        if not spec:
            continue
        if "{" in spec:
            raise TemplateLimitError("a format width taken from an argument ('{:{}}') is not allowed")
        for number in re.findall(r"\d+", spec):
            _check_width(int(number), "the format width")


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A builtin filter that refuses the arguments that would build a huge result."""

    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        if name == "format":
            _check_printf(value, kwargs or args)
        elif name == "replace" and len(args) >= 2:
            growth = str(value).count(str(args[0])) * len(str(args[1]))
            _check_width(len(str(value)) + growth, "the replaced text's length")
        else:  # center(width), indent(width), batch(size, fill), slice(count, fill)
            for arg in (*args[:1], *kwargs.values()):
                _check_width(arg, f"{name}'s size")
        return _sized(func(value, *args, **kwargs), f"the {name} filter's result")

    bounded.__name__ = getattr(func, "__name__", name)
    return bounded


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    for value in (n, min, max):
        _check_width(value * 10, "lipsum's size")
    return str(jinja2.utils.generate_lorem_ipsum(n=n, html=html, min=min, max=max))


class _Bounds(NodeTransformer):
    """Make each loop pay one step per item and check each '~' concatenation's length.

    Loops iterate through ``environment.bounded_iter``; a recursive loop's body also calls
    ``environment.loop_step`` (its ``loop(...)`` calls start new iterations); '~' results
    pass ``environment.bounded_text``. All are calls, counted by ``_BrandSandbox.call``.
    """

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _env_call("bounded_iter", [node.iter], node.lineno)
        if node.recursive:
            step = nodes.ExprStmt(_env_call("loop_step", [], node.lineno), lineno=node.lineno)
            node.body = [step, *node.body]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _env_call("bounded_text", [node], node.lineno)


def _env_call(name: str, args: list[Any], lineno: int) -> nodes.Call:
    return nodes.Call(nodes.EnvironmentAttribute(name), args, [], None, None, lineno=lineno)


class _BoundedTemplate(jinja2.Template):
    """A Jinja template whose each rendering gets :data:`MAX_STEPS` steps."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        token = _steps_left.set([MAX_STEPS])
        try:
            return super().render(*args, **kwargs)
        finally:
            _steps_left.reset(token)


class _BrandSandbox(ImmutableSandboxedEnvironment):
    """Jinja's sandbox (lists and dicts read-only), with limits so that a template can
    neither run for ever nor exhaust memory: '*' and '**' sizes, steps (loop iterations
    and calls, :data:`MAX_STEPS`) and the length of every text built (:data:`MAX_OUTPUT`).
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    template_class = _BoundedTemplate

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=self._finalize_output, **options)
        for name in ("center", "indent", "format", "replace", "batch", "slice"):
            self.filters[name] = _bounded_filter(name, self.filters[name])
        self.globals["lipsum"] = _bounded_lipsum

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        _Bounds().visit(tree)
        return tree

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(
                f"exponent {right} is too large (limit {MAX_EXPONENT})"
            )
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                sequence = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if sequence and len(seq) * times > MAX_REPEAT:
                    raise SecurityError(
                        f"repeating a value {times} times is too large (limit {MAX_REPEAT} items)"
                    )
        if operator == "%":
            _check_printf(left, right)
        return _sized(super().call_binop(context, operator, left, right), "the text built")

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _step()
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, str):
            method = getattr(obj, "__name__", "")
            if method in _STR_WIDTH_METHODS:
                for arg in (*args, *kwargs.values()):
                    _check_width(arg, f"{method}'s size")
            elif method == "replace" and len(args) >= 2:
                growth = owner.count(str(args[0])) * len(str(args[1]))
                _check_width(len(owner) + growth, "the replaced text's length")
        return _sized(super().call(context, obj, *args, **kwargs), "the text built")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        _check_format_spec(value.__self__)
        return formatter

    def concat(self, chunks: Iterable[str]) -> str:
        """Join a rendering's output, stopping as soon as it is too long."""
        out: list[str] = []
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise _too_long("the rendered text")
            out.append(chunk)
        return "".join(out)

    def bounded_iter(self, iterable: Any) -> Iterator[Any]:
        """What a template loop iterates: one step per item."""
        for item in iterable:
            _step()
            yield item

    def loop_step(self) -> str:
        """Called once per item of a recursive loop (the call is the step)."""
        return ""

    def bounded_text(self, text: Any) -> Any:
        return _sized(text, "the text built")

    @staticmethod
    def _finalize_output(value: Any) -> Any:
        """Each ``{{ ... }}`` output: a macro's or a filter's text too must stay bounded."""
        if isinstance(value, str) and len(value) > MAX_OUTPUT:
            raise _too_long("an output")
        return value


# -- templates -----------------------------------------------------------------------------


class _Renderable(Protocol):
    def render(self, context: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True)
class ReplyTemplate:
    """A compiled reply template and where it was written ("file:line" or "plugin:name").

    ``compiled`` is something with ``render(context)`` (a Jinja template, or for text with
    simple ``{{ name.attr | filter }}`` outputs only, a renderer that skips Jinja), or for
    plain text (no ``{{``, ``{%`` or ``{#``) the final text itself.
    """

    source: str
    where: str
    compiled: str | _Renderable = field(compare=False, repr=False, hash=False)

    @property
    def is_plain(self) -> bool:
        return isinstance(self.compiled, str)


def _is_plain(source: str) -> bool:
    return "{{" not in source and "{%" not in source and "{#" not in source


def _plain_text(source: str) -> str:
    """What Jinja would render for text without tags: one trailing newline dropped, '\\n' newlines."""
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    return text.removesuffix("\n")


def _at_line(where: str, line: int | None) -> str:
    """Shift "file:10" by a template-relative line (1-based); other wheres get a suffix."""
    if not line:
        return where
    m = _WHERE_LINE.match(where)
    if m:
        return f"{m.group(1)}:{int(m.group(2)) + line - 1}"
    return f"{where} (template line {line})" if where else f"template line {line}"


def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class _LazyTemplate:
    """A template parsed (so syntax errors are found at load) but compiled on first render.

    Jinja's code generation is the slow part of loading hundreds of rules; most rules
    of a big rule book are rarely used, so the bot pays for a template when it first
    speaks it. ``brandbot check`` still compiles and renders every template.
    """

    __slots__ = ("_compiled", "_env", "_source")

    def __init__(self, env: jinja2.Environment, source: str) -> None:
        self._env = env
        self._source = source
        self._compiled: jinja2.Template | None = None

    def render(self, context: Mapping[str, Any]) -> str:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = self._env.from_string(self._source)
        return compiled.render(context)


@fast_init
@dataclass(frozen=True, slots=True)
class _Output:
    """One ``{{ name.attr.attr | filter | filter }}`` of a simple template."""

    name: str
    attrs: tuple[str, ...]
    filters: tuple[Callable[[Any], Any], ...]
    filter_names: tuple[str, ...]


_MISSING = object()


class _SimpleTemplate:
    """A template of text and ``{{ name.attr | filter }}`` outputs, rendered without Jinja.

    Most reply templates are like that ("Hi {{ name | first_name }}, you have
    {{ follower.points }} points"). Jinja's generated code for them looks each name up in
    the context, each attribute up with the sandbox's ``getattr``, calls each filter and
    joins ``str()`` of the results; this does the same without building a Jinja context
    or compiling Python code. Whatever would not simply work (a name missing from the
    context, an undefined attribute, a filter that raises) is handed to the real Jinja
    template, so such cases render, or fail, exactly as before.
    """

    __slots__ = ("_getattr", "_jinja", "_parts")

    def __init__(
        self,
        parts: tuple[str | _Output, ...],
        getattr_: Callable[[Any, str], Any],
        jinja: _Renderable,
    ) -> None:
        self._parts = parts
        self._getattr = getattr_
        self._jinja = jinja

    @property
    def outputs(self) -> tuple[_Output, ...]:
        return tuple(p for p in self._parts if isinstance(p, _Output))

    def render(self, context: Mapping[str, Any]) -> str:
        try:
            text = self._render(context)
        except Exception:  # noqa: BLE001 - Jinja renders it again and reports the error its way
            text = None
        return self._jinja.render(context) if text is None else text

    def _render(self, context: Mapping[str, Any]) -> str | None:
        out: list[str] = []
        for part in self._parts:
            if part.__class__ is str:
                out.append(part)
                continue
            value = context.get(part.name, _MISSING)  # type: ignore[union-attr]
            if value is _MISSING:
                return None  # a global, or undefined: Jinja's business
            for attr in part.attrs:  # type: ignore[union-attr]
                value = self._attribute(value, attr)
                if value is _MISSING:
                    return None
            for func in part.filters:  # type: ignore[union-attr]
                value = func(value)
            out.append(str(value))
        return "".join(out)

    def _attribute(self, value: Any, attr: str) -> Any:
        """``value.attr`` as the sandbox resolves it, or ``_MISSING`` if undefined.

        A field of a template view, or a key of a plain dict that is not a dict method
        name, is exactly what the sandbox's ``getattr`` returns too (no format method,
        no internal attribute), so those skip its checks.
        """
        cls = value.__class__
        fields = _VIEW_FIELDS.get(cls)
        if fields is not None and attr in fields:
            return getattr(value, attr)
        if cls is dict and attr not in _DICT_ATTRIBUTES:
            return value.get(attr, _MISSING)
        value = self._getattr(value, attr)
        return _MISSING if isinstance(value, jinja2.Undefined) else value


#: The data fields of the template views, by class.
_VIEW_FIELDS: Mapping[type, frozenset[str]] = {
    FollowerView: frozenset(FOLLOWER_FIELDS),
    EventView: frozenset(EVENT_FIELDS),
}
#: Attribute names a plain dict has (methods and dunders); ``d.name`` finds these first.
_DICT_ATTRIBUTES = frozenset(dir(dict))


def _simple_parts(
    tree: nodes.Template, env: jinja2.Environment
) -> tuple[str | _Output, ...] | None:
    """The parts of a template made only of text and simple outputs, else None."""
    parts: list[str | _Output] = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                if parts and isinstance(parts[-1], str):
                    parts[-1] += child.data
                else:
                    parts.append(child.data)
                continue
            output = _simple_output(child, env)
            if output is None:
                return None
            parts.append(output)
    return tuple(parts)


def _simple_output(node: nodes.Node, env: jinja2.Environment) -> _Output | None:
    """``name``, ``name.attr...`` and argument-free filters on them; else None."""
    filters: list[Callable[[Any], Any]] = []
    names: list[str] = []
    while isinstance(node, nodes.Filter):
        if node.node is None or node.args or node.kwargs or node.dyn_args or node.dyn_kwargs:
            return None
        func = env.filters.get(node.name)
        if func is None or getattr(func, "jinja_pass_arg", None) is not None:
            return None  # unknown, or wants the context/environment passed in
        filters.append(func)
        names.append(node.name)
        node = node.node
    attrs: list[str] = []
    while isinstance(node, nodes.Getattr):
        attrs.append(node.attr)
        node = node.node
    if not isinstance(node, nodes.Name) or node.ctx != "load":
        return None
    return _Output(
        node.name, tuple(reversed(attrs)), tuple(reversed(filters)), tuple(reversed(names))
    )


class TemplateEngine:
    """Compiles, checks and renders reply templates in one sandboxed Jinja environment.

    ``lazy=True`` (the running bot) only parses and statically checks templates at load
    and compiles each on first use; the default (``brandbot check``) compiles and renders
    every template against a sample follower.
    """

    def __init__(self, brand: Mapping[str, Any] | None = None, *, lazy: bool = False) -> None:
        self.lazy = lazy
        self.brand: Mapping[str, Any] = dict(DEFAULT_BRAND if brand is None else brand)
        env = _BrandSandbox(
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            auto_reload=False,
        )
        env.filters["first_name"] = first_name
        env.filters["ordinal"] = ordinal
        env.globals["plural"] = plural
        self._env = env
        #: The documented variables (the keys of ``sample_context``, whatever the brand).
        self._sample_names = frozenset(sample_context(self.brand))
        self._cache: OrderedDict[str, _Renderable] = OrderedDict()
        #: The tree ``compile`` parsed last, for the ``check`` that usually follows it.
        self._last_tree: tuple[str, nodes.Template] | None = None

    @property
    def environment(self) -> jinja2.Environment:
        return self._env

    def variables(self, extra_names: Iterable[str] = ()) -> list[str]:
        """The names a template may use, sorted (documented variables, globals, extras)."""
        return sorted({*self._sample_names, *self._env.globals, *extra_names})

    def compile(self, source: str, where: str = "") -> ReplyTemplate:
        """Compile a template; a syntax error raises TemplateError at the template's line."""
        if not isinstance(source, str):
            raise TemplateError(
                f"a reply template must be text, got {type(source).__name__}", where
            )
        if _is_plain(source):
            return ReplyTemplate(source, where, _plain_text(source))
        compiled = self._cache.get(source)
        if compiled is not None:
            self._cache.move_to_end(source)
            return ReplyTemplate(source, where, compiled)
        try:
            if self.lazy:
                tree = self._env.parse(source)  # syntax errors now, code generation on first use
                jinja: _Renderable = _LazyTemplate(self._env, source)
            else:
                jinja = self._env.from_string(source)
                tree = self._env.parse(source)  # a fresh tree: code generation may alter its own
        except jinja2.TemplateSyntaxError as exc:
            message = (exc.message or "invalid template").rstrip(".")
            m = re.match(r"No (filter|test) named '([^']+)'", message)
            if m:
                names = self._env.filters if m.group(1) == "filter" else self._env.tests
                message += _suggest(m.group(2), names)
            raise TemplateError(
                f"template syntax error: {message}", _at_line(where, exc.lineno)
            ) from None
        self._last_tree = (source, tree)
        parts = _simple_parts(tree, self._env)
        compiled = jinja if parts is None else _SimpleTemplate(parts, self._env.getattr, jinja)
        self._cache[source] = compiled
        if len(self._cache) > COMPILE_CACHE_SIZE:
            self._cache.popitem(last=False)
        return ReplyTemplate(source, where, compiled)

    def _parse(self, source: str) -> nodes.Template:
        """The tree of ``source``: the one ``compile`` just parsed (once), else parsed now."""
        last, self._last_tree = self._last_tree, None
        if last is not None and last[0] == source:
            return last[1]
        return self._env.parse(source)

    def render(self, template: ReplyTemplate, context: Mapping[str, Any]) -> str:
        """Render with the given variables; any failure is a TemplateError naming the template."""
        return self._render(template, context, template.where)

    def _render(self, template: ReplyTemplate, context: Mapping[str, Any], where: str) -> str:
        if isinstance(template.compiled, str):
            return template.compiled
        try:
            return template.compiled.render(context)
        except jinja2.UndefinedError as exc:
            raise TemplateError(self._undefined_message(str(exc), context), where) from None
        except TemplateLimitError as exc:
            raise TemplateError(f"template stopped: {exc}", where) from None
        except RecursionError:
            raise TemplateError(
                "template stopped: a macro or recursive loop calls itself too deeply", where
            ) from None
        except SecurityError as exc:
            raise TemplateError(f"template tried something unsafe: {exc}", where) from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template failed: {exc}", where) from None
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
            raise TemplateError(f"template failed: {type(exc).__name__}: {exc}", where) from None

    def check(
        self, template: ReplyTemplate, where: str = "", *, extra_names: Iterable[str] = ()
    ) -> None:
        """Fail now, with file:line, on anything that would fail when a follower writes in.

        Every branch is checked statically (unknown variables, follower/event attributes,
        filters, tests), then the template is rendered once against ``sample_context``.
        """
        where = where or template.where
        if isinstance(template.compiled, str):
            return
        extra_names = tuple(extra_names)
        known = set(self.variables(extra_names))
        if not self._passes_simple_checks(template.compiled, known):
            tree = self._parse(template.source)
            for name in sorted(meta.find_undeclared_variables(tree)):
                if name not in known:
                    line = next(
                        (n.lineno for n in tree.find_all(nodes.Name) if n.name == name), None
                    )
                    raise TemplateError(self._unknown_variable(name, known), _at_line(where, line))
            self._check_attributes(tree, where)
            self._check_filters(tree, where)
        if self.lazy:
            return  # the static checks above cover names; brandbot check renders too
        sample = sample_context(self.brand)
        sample.update({name: "sample" for name in extra_names if name not in sample})
        self._render(template, sample, where)

    # -- helpers ---------------------------------------------------------------------------

    def _shapes(self) -> dict[str, tuple[str, ...]]:
        """The attributes ``follower``, ``event`` and ``brand`` have."""
        return {"follower": FOLLOWER_FIELDS, "event": EVENT_FIELDS, "brand": tuple(self.brand)}

    def _passes_simple_checks(self, compiled: Any, known: set[str]) -> bool:
        """The static checks of a simple template, from its outputs: no Jinja tree walk.

        True when every name is known, every attribute taken of ``follower``, ``event``
        or ``brand`` exists and every filter is registered. Otherwise (or for any other
        template) the full checks run, and report the problem with its line.
        """
        if not isinstance(compiled, _SimpleTemplate):
            return False
        shapes = self._shapes()
        for output in compiled.outputs:
            if output.name not in known:
                return False
            if output.attrs and output.name in shapes:
                attr = output.attrs[0]
                brand_method = output.name == "brand" and hasattr(dict, attr)
                if attr not in shapes[output.name] and not brand_method:
                    return False
            if any(name not in self._env.filters for name in output.filter_names):
                return False
        return True

    def _check_attributes(self, tree: nodes.Template, where: str) -> None:
        assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
        shapes = self._shapes()
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            assert isinstance(node, nodes.Getattr | nodes.Getitem)
            target = node.node
            if (
                not isinstance(target, nodes.Name)
                or target.name not in shapes
                or target.name in assigned
            ):
                continue
            if isinstance(node, nodes.Getattr):
                attr = node.attr
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                attr = node.arg.value
            else:
                continue
            allowed = shapes[target.name]
            if target.name == "brand" and hasattr(dict, attr):
                continue  # brand.get(...), brand.items()
            if attr not in allowed:
                close = difflib.get_close_matches(attr, list(allowed), n=1, cutoff=0.6)
                hint = f"; did you mean '{target.name}.{close[0]}'?" if close else ""
                raise TemplateError(
                    f"unknown variable '{target.name}.{attr}'{hint} "
                    f"({target.name} has: {', '.join(sorted(allowed))})",
                    _at_line(where, node.lineno),
                )

    def _check_filters(self, tree: nodes.Template, where: str) -> None:
        for node in tree.find_all((nodes.Filter, nodes.Test)):
            table, what = (
                (self._env.filters, "filter")
                if isinstance(node, nodes.Filter)
                else (self._env.tests, "test")
            )
            if node.name not in table:
                raise TemplateError(
                    f"template syntax error: no {what} named {node.name!r}{_suggest(node.name, table)}",
                    _at_line(where, node.lineno),
                )

    def _unknown_variable(self, name: str, known: Iterable[str]) -> str:
        known = set(known)
        # Jinja's own helpers (range, dict, cycler, ...) stay usable but are not worth listing.
        listed = sorted(known - set(jinja2.defaults.DEFAULT_NAMESPACE))
        return f"unknown variable {name!r}{_suggest(name, known)} (known variables: {', '.join(listed)})"

    def _undefined_message(self, message: str, context: Mapping[str, Any]) -> str:
        m = _UNDEFINED_NAME.match(message)
        if m:
            return self._unknown_variable(m.group(1), [*context, *self._env.globals])
        m = _MISSING_ATTR.match(message)
        if m:
            attr = m.group(2)
            dotted = [
                f"{k}.{f}"
                for k, shape in (("follower", FOLLOWER_FIELDS), ("event", EVENT_FIELDS))
                for f in shape
            ]
            dotted += [f"brand.{k}" for k in context.get("brand", {}) or {}]
            close = difflib.get_close_matches(
                attr, [d.split(".", 1)[1] for d in dotted], n=1, cutoff=0.6
            )
            hint = ""
            if close:
                hint = f"; did you mean {next(d for d in dotted if d.endswith('.' + close[0]))!r}?"
            return f"unknown attribute {attr!r} ({message}){hint}"
        return f"undefined value in template: {message}"


__all__ = [
    "DEFAULT_BRAND",
    "EVENT_FIELDS",
    "FOLLOWER_FIELDS",
    "MARKUP_ESCAPES",
    "EventView",
    "FollowerView",
    "ReplyTemplate",
    "TemplateEngine",
    "build_context",
    "escape_markup",
    "first_name",
    "ordinal",
    "plural",
    "sample_context",
]
