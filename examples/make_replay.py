"""Write a replay of mixed events across networks, for `brandbot simulate`.

    python examples/make_replay.py 300 > replay.jsonl
    brandbot simulate replay.jsonl | jq -c 'select(.action == "refuse")'
"""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta, timezone

PEOPLE = ["ana", "ben", "chloe", "dev", "eli", "fatima", "gus", "hana", "ivo", "jun"]
NETWORKS = ["console", "telegram", "discord", "x"]
SAYINGS = [
    ("direct", "hi"), ("direct", "hello again"), ("mention", "@inkwell when is the tour?"),
    ("direct", "where is my order #12345"), ("direct", "shipping to Norway?"),
    ("mention", "@inkwell can I get a review copy?"), ("direct", "stop"), ("direct", "start"),
    ("direct", "I want a human"), ("repost", ""), ("quote", "Everyone read this!"),
    ("reply", "Loved the interview"), ("follow", ""), ("join", ""), ("reaction", ""),
    ("message", "chatting about books"), ("command", "/points"), ("command", "/help"),
    ("direct", "asdf qwerty"),
]


def events(count: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    start = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
    out = []
    for i in range(count):
        kind, text = rng.choice(SAYINGS)
        network = rng.choice(NETWORKS)
        if network == "console" and kind in ("follow", "join"):
            kind = "direct"
        person = rng.choice(PEOPLE)
        private = kind in ("direct", "command")
        out.append({
            "id": f"r{i}", "kind": kind, "network": network, "author": person, "name": person.capitalize(),
            "text": text, "private": private,
            "conversation": f"dm:{person}" if private else "public",
            "refers_to": "tour-announcement" if kind in ("repost", "quote", "reply", "reaction") else None,
            "time": (start + timedelta(minutes=3 * i)).isoformat(),
        })
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    for e in events(n):
        print(json.dumps(e))
