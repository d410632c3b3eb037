"""The watchdog: each cell runs in a worker process that the driver can kill (docs/reliability.md).

A hung XLA computation cannot be cancelled from inside its process (`block_until_ready` waits in
native code), so the driver (`hardnet-bench`) never runs a cell itself. It keeps one worker
process, `python -m hardnet.run.worker`, and sends it one cell at a time over a pipe:

    driver                                   worker
    ------                                   ------
    send init (jax options)      ─────────▶  start jax where asked
                                 ◀─────────  send ("ready", probe.probe())
    send (cell, seed)            ─────────▶  rows = runner.run_cell(cell, seed)
    wait at most `timeout` s     ◀─────────  send ("rows", rows)

- A cell that takes longer than `timeout` seconds: the driver asks the worker for its Python
  stacks (SIGUSR1, `faulthandler`), adds the native stacks of every thread when `gdb` is
  installed, writes both to `<workdir>/stacks/<cell_id>.txt`, kills the worker (SIGKILL) and
  returns failed rows with `fail_reason` "timeout: ...". The next cell gets a fresh worker.
- A worker that dies (a segfault, the OOM killer): failed rows with "worker crashed: ..." and the
  tail of its log (`<workdir>/logs/worker.log`); a fresh worker takes the next cell.
- A worker that cannot start where it was asked (`--jax_platforms=cuda` without CUDA): it answers
  with jax's error instead of "ready", and the driver raises `WorkerStartFailed` (one line).
- A driver that dies (SIGKILL included): the worker dies with it (`PR_SET_PDEATHSIG` on Linux,
  and a thread that watches the parent pid elsewhere), so a resumed run never races an orphan.

Compilations survive a killed worker through jax's persistent compilation cache
(`<workdir>/cache/jax`). The worker applies the driver's jax options (`executors.JAX_OPTIONS`)
and inherits its environment (`XLA_FLAGS`, `JAX_PLATFORMS`), so its rows equal an in-process
run's. A config file that registers learners (examples/my_learner.py) is imported by the worker
too (`preload`), so registered learners exist there.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import importlib.util
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

STACK_SIGNAL = signal.SIGUSR1
START_TIMEOUT_S = 300.0  # importing jax and starting its backend (CUDA: tens of seconds)
_HEADER = struct.Struct("!Q")


def send(stream: BinaryIO, message: Any) -> None:
    """Write one pickled message, length-prefixed."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def receive(stream: BinaryIO) -> Any:
    """Read one message; EOFError when the other side is gone."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("pipe closed")
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("pipe closed mid-message")
    return pickle.loads(data)


class CellTimeout(Exception):
    """A cell ran past its time limit; the worker was killed."""


class WorkerCrashed(Exception):
    """The worker died while running a cell."""


class WorkerStartFailed(Exception):
    """The worker could not start: jax could not initialize the platform it was asked for."""


class Worker:
    """A killable process that runs cells (module docstring). Not thread-safe."""

    def __init__(
        self,
        workdir: str | os.PathLike,
        jax_options: Mapping[str, Any],
        preload: Sequence[str] = (),
    ):
        self.workdir = Path(workdir)
        self.jax_options = dict(jax_options)
        self.preload = list(preload)
        self._proc: subprocess.Popen | None = None
        self.device: dict[str, Any] = {}
        self._log_path = self.workdir / "logs" / "worker.log"

    # -------------------------------------------------------------------------- lifecycle
    def _start(self) -> subprocess.Popen:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self._log_path, "ab")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "hardnet.run.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        finally:
            log.close()
        init = {
            "jax_options": self.jax_options,
            "preload": self.preload,
            "cache_dir": str(self.workdir / "cache" / "jax"),
            "stacks_dir": str(self.workdir / "stacks"),
        }
        send(proc.stdin, init)
        reply: list[Any] = []
        reader = threading.Thread(target=self._read, args=(proc, reply), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_S)
        if reader.is_alive() or reply[0][0] != "ready":
            proc.kill()
            proc.wait()
            reader.join()
            why = reply[0][1] if reply else f"no answer in {START_TIMEOUT_S:g} s"
            raise WorkerStartFailed(f"the worker could not start: {why}; log: {self._log_path}")
        self.device = reply[0][1]
        return proc

    def start(self) -> dict[str, Any]:
        """Start the worker (if it is not running) and return its `probe.probe()` answer: the
        device the cells will run on. Raises WorkerStartFailed (one line)."""
        if self._proc is None or self._proc.poll() is not None:
            self._proc = self._start()
        return dict(self.device)

    def close(self) -> None:
        """Stop the worker (it exits on EOF; killed if it does not within 5 s)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------------------------- run
    def run(self, cell: Any, seed: int, timeout: float | None) -> list[dict[str, Any]]:
        """The cell's rows. Raises CellTimeout or WorkerCrashed (the worker is then gone) or
        the exception `run_cell` raised in the worker (re-raised here; the worker lives on)."""
        if self._proc is None or self._proc.poll() is not None:
            self._proc = self._start()
        proc = self._proc
        try:
            send(proc.stdin, ("cell", cell, seed))
        except (BrokenPipeError, OSError) as error:
            self._proc = None
            raise WorkerCrashed(self._crash_text(proc, error)) from None
        reply: list[Any] = []
        reader = threading.Thread(target=self._read, args=(proc, reply), daemon=True)
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            stacks = self._dump_stacks(proc, cell.cell_id)
            proc.kill()
            proc.wait()
            reader.join()
            self._proc = None
            raise CellTimeout(f"timeout: the cell ran past {timeout:g} s; stacks in {stacks}")
        kind, payload = reply[0]
        if kind == "rows":
            return payload
        if kind == "error":
            raise payload
        self._proc = None
        with contextlib.suppress(OSError):  # its stack is in the log (faulthandler)
            (self.workdir / "stacks" / f"{cell.cell_id}.txt").unlink()
        raise WorkerCrashed(self._crash_text(proc, payload))

    @staticmethod
    def _read(proc: subprocess.Popen, reply: list[Any]) -> None:
        try:
            reply.append(receive(proc.stdout))
        except (EOFError, OSError, pickle.UnpicklingError) as error:
            reply.append(("eof", error))

    def _crash_text(self, proc: subprocess.Popen, error: object) -> str:
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        tail = ""
        with contextlib.suppress(OSError):
            lines = self._log_path.read_text(errors="replace").strip().splitlines()
            tail = f"; last log line: {lines[-1].strip()[:200]}" if lines else ""
        return f"worker crashed ({how}; {error}){tail}; log: {self._log_path}"

    def _dump_stacks(self, proc: subprocess.Popen, cell_id: str) -> Path:
        """Python stacks (faulthandler, written by the worker) and native stacks (gdb) of the
        hung worker into stacks/<cell_id>.txt."""
        path = self.workdir / "stacks" / f"{cell_id}.txt"
        with contextlib.suppress(OSError):
            proc.send_signal(STACK_SIGNAL)
            time.sleep(1.0)  # faulthandler writes from a signal handler, at once
        gdb = shutil.which("gdb")
        if gdb is not None:
            cmd = [gdb, "-p", str(proc.pid), "-batch", "-ex", "thread apply all bt"]
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
                with open(path, "a") as f:
                    f.write("\n=== native stacks (gdb: thread apply all bt) ===\n")
                    f.write(out.stdout[-200_000:])
        return path


# ------------------------------------------------------------------------------- the worker
def _die_with_parent() -> None:
    """SIGKILL this process when its parent dies: prctl(PR_SET_PDEATHSIG) on Linux, plus a
    thread polling the parent pid (any POSIX)."""
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _preload(paths: Sequence[str]) -> None:
    """Import each config file (registers its learners, as the driver's config loading did)."""
    for i, path in enumerate(paths):
        spec = importlib.util.spec_from_file_location(f"_hardnet_preload_{i}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import the config file {path}")
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


def _test_faults(cell_id: str) -> None:
    """Test hooks: hang (HARDNET_TEST_HANG_CELL) or crash with SIGSEGV (HARDNET_TEST_CRASH_CELL)
    on the cells whose id contains the variable's value."""
    hang, crash = (os.environ.get(f"HARDNET_TEST_{k}_CELL") for k in ("HANG", "CRASH"))
    if hang and hang in cell_id:
        threading.Event().wait()
    if crash and crash in cell_id:
        os.kill(os.getpid(), signal.SIGSEGV)


def main() -> None:
    """The worker loop: read the init message, then (cell, seed) messages until EOF."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver decides when this process stops
    faulthandler.enable()  # a crash leaves its Python stack in the log
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # anything printed goes to the log, not into the pipe
    init = receive(stdin)
    import jax

    for name, value in init["jax_options"].items():
        if getattr(jax.config, name) != value:
            jax.config.update(name, value)
    if not jax.config.jax_compilation_cache_dir:  # JAX_COMPILATION_CACHE_DIR names a shared one
        jax.config.update("jax_compilation_cache_dir", init["cache_dir"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    _preload(init["preload"])
    from hardnet.core.rows import error_reason
    from hardnet.run import probe, runner

    try:
        send(stdout, ("ready", probe.probe()))
    except Exception as error:  # jax cannot start the platform it was asked for
        send(stdout, ("error", error_reason(error)))
        return

    Path(init["stacks_dir"]).mkdir(parents=True, exist_ok=True)
    caches = runner.Caches()
    while True:
        try:
            _, cell, seed = receive(stdin)
        except EOFError:
            return
        stack_file = open(Path(init["stacks_dir"]) / f"{cell.cell_id}.txt", "w")
        stack_file.write(f"=== Python stacks of the worker (pid {os.getpid()}) ===\n")
        stack_file.flush()
        faulthandler.register(STACK_SIGNAL, file=stack_file, all_threads=True)
        _test_faults(cell.cell_id)
        try:
            rows = runner.run_cell(cell, seed_base=seed, caches=caches)
            message: tuple[str, Any] = ("rows", rows)
        except Exception as error:  # run_cell records training errors itself; this is the rest
            message = ("error", error)
        faulthandler.unregister(STACK_SIGNAL)
        stack_file.close()
        with contextlib.suppress(OSError):  # no hang: the dump is not needed
            os.unlink(stack_file.name)
        try:
            send(stdout, message)
        except pickle.PicklingError:
            send(stdout, ("error", RuntimeError(f"unpicklable result: {message[1]!r}"[:500])))


if __name__ == "__main__":
    main()
