"""Shared by the absl commands: errors as one line on stderr (exit 2), never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

from absl import flags


def fail(prog: str, message: object) -> NoReturn:
    """Exit with one line on stderr (no traceback)."""
    text = "; ".join(line.strip() for line in str(message).splitlines() if line.strip())
    sys.stderr.write(f"{prog}: error: {text}\n")
    sys.exit(2)


def flags_parser(prog: str) -> Callable[[list[str]], list[str]]:
    """An `app.run` flags parser whose errors are one line naming the flag."""

    def parse(argv: list[str]) -> list[str]:
        try:
            return flags.FLAGS(argv)
        except flags.Error as error:
            fail(prog, f"{error} (see --helpshort)")

    return parse
