"""What a terminal would show for some output: a pyte screen, compared line by line with the text meant.

Tests feed what the CLI wrote (colours and all) to a VT100-compatible emulator and read back the screen.
If a control sequence got through, the screen differs from the text: a cursor move overwrites an earlier
line, CR or backspace rewrites the current one, an OSC or BEL disappears.
"""

from __future__ import annotations

from dataclasses import dataclass

import click
import pyte


@dataclass(frozen=True)
class Screen:
    rows: list[str]
    cursor_row: int

    def index(self, prefix: str) -> int:
        """The row that starts with ``prefix`` (exactly one must)."""
        found = [i for i, row in enumerate(self.rows) if row.startswith(prefix)]
        assert len(found) == 1, f"{prefix!r} starts {len(found)} rows: {self.rows}"
        return found[0]


def render_screen(output: str, *, tty_newlines: bool = True) -> Screen:
    """Feed ``output`` to a terminal large enough that nothing wraps or scrolls; return its rows.

    ``tty_newlines``: translate LF to CRLF as a terminal's line discipline does (``onlcr``); output read
    from a real pty already has it.
    """
    lines = output.splitlines()
    columns = 2 * max((len(line) for line in lines), default=1) + 10  # wide characters take two cells
    screen = pyte.Screen(columns, len(lines) + 5)
    stream = pyte.Stream(screen)
    stream.feed(output.replace("\n", "\r\n") if tty_newlines else output)
    return Screen(rows=[row.rstrip() for row in screen.display], cursor_row=screen.cursor.y)


def intended_lines(output: str) -> list[str]:
    """The text the output means: colours removed, nothing else (click removes CSI sequences only)."""
    return [line.rstrip() for line in click.unstyle(output).replace("\r\n", "\n").split("\n")]


def assert_screen_shows(output: str, *, tty_newlines: bool = True) -> Screen:
    """The screen shows exactly the intended text, every line where it was written, and nothing else."""
    screen = render_screen(output, tty_newlines=tty_newlines)
    expected = intended_lines(output)
    if expected and expected[-1] == "":
        expected.pop()
    shown = screen.rows[: len(expected)]
    assert shown == expected, "the terminal does not show what was written:\n" + "\n".join(
        f"{'  ' if a == b else '!='} screen {a!r}\n   text   {b!r}" for a, b in zip(shown, expected, strict=True)
    )
    assert all(row == "" for row in screen.rows[len(expected) :]), screen.rows
    return screen
