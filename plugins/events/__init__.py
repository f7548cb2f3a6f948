"""events: a virtual book tour with reminders, live Q&A sessions and recaps.

- ``tour``: the stops (tour.yaml or ``/tour add``), validated with file:line errors.
- ``followers``: ``/tour``, ``/subscribe``, ``/unsubscribe``; where reminders go.
- ``qa``: ``/ask``, questions by mention, the moderated queue (``/qa ...``).
- ``schedule``: the persisted jobs (reminders, opening, closing) and the start-up check.
- ``recap``: attendance and the staff recap.

See docs/plugins/events.md.
"""

# Importing each module runs its decorators, which register the handlers on ``plugin``.
# (``from .x import name``, not ``from . import x``: plugin packages are imported under a
# private name whose parent packages do not exist, and only this form works there.)
from .base import plugin
from .followers import subscribe as _followers
from .qa import qa as _qa
from .recap import attendance as _recap
from .schedule import load as _schedule

__all__ = ["plugin"]
_REGISTERED = (_followers, _qa, _recap, _schedule)
