"""Shared by the absl commands: errors as one line on stderr (exit 2), never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

from absl import flags

from hardnet import configs


def fail(prog: str, message: object) -> NoReturn:
    """Exit with one line on stderr (no traceback)."""
    text = "; ".join(line.strip() for line in str(message).splitlines() if line.strip())
    sys.stderr.write(f"{prog}: error: {text}\n")
    sys.exit(2)


def flags_parser(prog: str) -> Callable[[list[str]], list[str]]:
    """An `app.run` flags parser whose errors are one line naming the flag."""

    def parse(argv: list[str]) -> list[str]:
        argv = config_names(argv)
        try:
            return flags.FLAGS(argv)
        except flags.Error as error:
            fail(prog, f"{_without_traceback(str(error))} (see --helpshort)")
        except (AttributeError, KeyError) as error:  # ml_collections: override of a missing field
            key = str(error).strip("\"'")
            bad = [a for a in argv[1:] if a.startswith("--config.") and key in a.split("=")[0]]
            where = bad[0] if bad else "a --config.* override"
            fail(
                prog,
                f"{where}: the config has no field {key!r} (an override can only set a field "
                "that the config file defines)",
            )

    return parse


def config_names(argv: list[str]) -> list[str]:
    """`argv` with a shipped config's short name in `--config` (`--config=headline:cpu`, or
    `--config headline:cpu`) replaced by its packaged file (`configs.resolve`)."""
    out = list(argv)
    for i, arg in enumerate(out):
        if arg.startswith("--config="):
            out[i] = "--config=" + configs.resolve(arg[len("--config=") :])
        elif arg == "--config" and i + 1 < len(out):
            out[i + 1] = configs.resolve(out[i + 1])
    return out


def _without_traceback(text: str) -> str:
    """A flag error whose text embeds a traceback (ml_collections' config files do that when
    `get_config` raises) shortened to its first line and the exception's last line."""
    if "Traceback (most recent call last)" not in text:
        return text
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    head = text.split("Traceback (most recent call last)")[0].strip().rstrip(":").strip()
    return f"{head}: {lines[-1]}"
