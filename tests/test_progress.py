"""hardnet.run.progress: the bar on a terminal, plain cell lines elsewhere."""

import io

from hardnet.run.progress import Progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_cell_lines_without_a_terminal():
    out, err = io.StringIO(), io.StringIO()
    bar = Progress(2, stream=err, started=0.0)
    bar.draw()
    bar.advance("cell-a", out=out)
    assert err.getvalue() == ""  # no bar in logs
    (line,) = out.getvalue().splitlines()
    assert line.startswith("[1/2] cell-a | ") and "ETA" in line


def test_bar_is_cleared_before_each_cell_line_and_redrawn():
    out, tty = io.StringIO(), _Tty()
    bar = Progress(2, stream=tty)
    bar.draw()
    bar.advance("cell-a", out=out)
    bar.advance("cell-b", out=out)
    text = tty.getvalue()
    assert text.count("\r\033[K") == 2  # the bar's line is erased before a cell line
    assert text.endswith("2/2 cells, 0:00 elapsed, ETA 0:00\n")
    assert "[" + "#" * 15 + "." * 15 + "] 1/2 cells" in text
    assert [ln.split(" |")[0] for ln in out.getvalue().splitlines()] == [
        "[1/2] cell-a",
        "[2/2] cell-b",
    ]
