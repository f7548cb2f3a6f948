"""python run.py: the bot on config/brandbot.yaml next to this file (same as `brandbot run`).

Extra arguments are passed on, e.g. `python run.py --log-level DEBUG`; `python run.py -c FILE`
runs another configuration (`-c` after the subcommand wins over the default given here).
"""

import sys
from pathlib import Path

from brandbot.ops.cli import main

if __name__ == "__main__":
    config = Path(__file__).resolve().parent / "config" / "brandbot.yaml"
    sys.exit(main(["-c", str(config), "run", *sys.argv[1:]]))
