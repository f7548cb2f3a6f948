"""Read-only views a plugin gets instead of the bot: networks, files, staff.

The plugin API is a promise to outsiders, so handlers see these narrow views (what a
network accepts, where the config folder is, how to reach the staff) and never the
Bot, the store or a network library object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from brandbot.core.config import BotConfig
from brandbot.core.policy import Decision
from brandbot.networks.base import Network, RateLimits


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    """What a plugin may know about one running network: its rules, not its connection."""

    _network: Network

    @property
    def name(self) -> str:
        return self._network.name

    @property
    def requires_summons(self) -> bool:
        """True where the platform allows automated replies only to people who mentioned the brand (X)."""
        return self._network.requires_summons

    @property
    def read_only(self) -> bool:
        """True where the bot only reads (blogs): every message to it is refused."""
        return self._network.read_only

    @property
    def limits(self) -> RateLimits:
        return self._network.limits

    def check_text(self, text: str) -> str | None:
        """Why the network would refuse ``text`` (too long, ...), or None if it takes it."""
        return self._network.check_text(text)

    def cost_of(self, text: str) -> float:
        """What posting ``text`` costs (X bills per post; most networks are free)."""
        return self._network.cost_of(text)

    def length_of(self, text: str) -> int:
        """The length of ``text`` as this network counts it (X: links 23, emoji 2)."""
        return self._network.length_of(text)


class Networks(Mapping[str, NetworkInfo]):
    """The running networks by name, read-only (``"x" in ctx.networks``, ``ctx.networks.get("x")``)."""

    def __init__(self, networks: Mapping[str, Network]) -> None:
        self._infos = {name: NetworkInfo(net) for name, net in networks.items()}

    def __getitem__(self, name: str) -> NetworkInfo:
        return self._infos[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._infos)

    def __len__(self) -> int:
        return len(self._infos)


class Files:
    """Where a plugin's files are: beside the config (read) and in the state folder (write)."""

    def __init__(self, config: Callable[[], BotConfig], *, writable: bool) -> None:
        self._config = config
        self.writable = writable  # False in ``brandbot simulate``: nothing is written outside memory

    @property
    def config_dir(self) -> Path:
        """The folder of brandbot.yaml: relative file names in the config are read from here."""
        return self._config().path.parent

    @property
    def state_dir(self) -> Path:
        """A writable folder next to the database (exports, caches): ``<database stem>-state``."""
        storage = self._config().storage_path
        if storage == ":memory:":
            return self.config_dir / "state"
        db = Path(storage)
        return db.parent / f"{db.stem}-state"

    def resolve(self, name: str | Path) -> Path:
        """A file named in the config, relative to the config folder."""
        path = Path(name)
        return path if path.is_absolute() else self.config_dir / path

    def where(self, *loc: str | int, value: bool = False) -> str:
        """"file:line" of a key in brandbot.yaml, for error messages that say what to fix."""
        doc = self._config().doc
        return doc.value_where(loc) if value else doc.where(loc)


class Staff:
    """How a plugin reaches the people behind the brand, and who they are."""

    def __init__(self, config: Callable[[], BotConfig], send: Callable[[str, str], Awaitable[Decision]],
                 handoffs: Callable[[], list[tuple[tuple[str, str], datetime]]],
                 release: Callable[[str, str], bool]) -> None:
        self._config = config
        self._send = send
        self._handoffs = handoffs
        self._release = release

    @property
    def network(self) -> str:
        return self._config().top.staff.network

    @property
    def conversation(self) -> str:
        return self._config().top.staff.conversation

    def is_admin(self, network: str, user_id: str, handle: str = "") -> bool:
        return self._config().is_admin(network, user_id, handle)

    def has_admins(self) -> bool:
        return bool(self._config().top.admins)

    def handoffs(self) -> list[tuple[tuple[str, str], datetime]]:
        """Conversations handed to a person, as ((network, conversation), until), soonest first."""
        return self._handoffs()

    def release(self, network: str, conversation: str) -> bool:
        """Let the bot speak again in a handed-off conversation; False if it was not handed off."""
        return self._release(network, conversation)

    async def send(self, text: str, *, source: str = "plugin") -> Decision:
        """Post to the configured staff channel (through the policy, like every message)."""
        return await self._send(text, source)


__all__ = ["Files", "NetworkInfo", "Networks", "Staff"]
