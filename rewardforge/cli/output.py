"""Where `rewardforge score` writes: never over its input, atomically, and resumably.

- The output may not be the input (the same path, a symlink to it, a hard link to it).
- Rows go to a hidden temporary file beside the output, renamed over it at the end, so a crash or
  a kill leaves either the old output or a complete new one, never a half-written line. An
  interrupted run (Ctrl-C, SIGTERM, a bad line) renames what it scored so far: every row in it
  is complete, and `--resume` carries on from there.
- An existing output is refused unless the run says what to do with it: `--force` replaces it,
  `--resume` keeps its rows (checked against the input, row by row) and scores only the rest.
- `-` (stdout) and special files (a FIFO, /dev/stdout) are written straight through.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import orjson

from rewardforge.cli.console import fail
from rewardforge.records import VERDICT_KEYS, BadLine, Record, dump_line, load_row


def row_identity(item: Record | BadLine) -> bytes:
    """What an output row must match to be the scored form of an input line."""
    if isinstance(item, BadLine):
        return b"line:%d" % item.line
    return _digest({key: value for key, value in item.row.items() if key not in VERDICT_KEYS})


def _digest(row: dict[str, Any]) -> bytes:
    return hashlib.blake2b(dump_line(row, sort_keys=True), digest_size=12).digest()


def _output_identity(row: dict[str, Any]) -> bytes:
    info = row.get("info")
    if set(row) == set(VERDICT_KEYS) and isinstance(info, dict) and "input_line" in info:
        return b"line:%d" % info["input_line"]  # the error row written for an unreadable line
    return _digest({key: value for key, value in row.items() if key not in VERDICT_KEYS})


def check_paths(input: str, output: str) -> None:
    """Refuse an output that is the input, or that cannot be written, before any work is done."""
    if output == "-":
        return
    target = Path(os.path.realpath(output))
    if input != "-":
        same = target == Path(os.path.realpath(input)) or (
            target.exists() and os.path.samefile(input, target))
        if same:
            fail(f"the output {output} is the input file; scoring would destroy it. "
                 "Write to another file, e.g. -o scored.jsonl")
    folder = target.parent
    if not folder.exists():
        fail(f"cannot write {output}: the folder {folder} does not exist")
    if not folder.is_dir():
        fail(f"cannot write {output}: {folder} is not a folder")
    if target.is_dir():
        fail(f"cannot write {output}: it is a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        fail(f"cannot write {output}: the folder {folder} is not writable")


class Output:
    """The scored rows of one run; `commit()` makes them the output file, `discard()` forgets them."""

    def __init__(self, path: str, *, resume: bool, force: bool) -> None:
        self.path = path
        self.rows = 0  # rows in the output so far, resumed ones included
        self.expected: list[bytes] = []  # identities of the resumed rows, in order
        self._temp: Path | None = None
        self._target: Path | None = None
        if path == "-":
            self._handle: IO[bytes] = sys.stdout.buffer
            return
        target = Path(os.path.realpath(path))
        if target.exists() and not target.is_file():  # a FIFO or a device: write straight through
            self._handle = self._open(lambda: target.open("ab"))
            return
        if target.exists() and not (resume or force):
            fail(f"{path} exists; pass --resume to keep its rows and score only the rest, "
                 "or --force to replace it")
        self._target = target
        descriptor, name = self._open(lambda: tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                                              suffix=".partial"))
        self._temp = Path(name)
        self._handle = os.fdopen(descriptor, "wb")
        os.chmod(self._temp, stat.S_IMODE(target.stat().st_mode) if target.exists() else _default_mode())
        if resume and target.exists():
            self._keep_rows_of(target)

    def _open(self, opener: Any) -> Any:
        try:
            return opener()
        except OSError as exc:
            fail(f"cannot write {self.path}: {exc.strerror or exc}")

    def _keep_rows_of(self, existing: Path) -> None:
        """Copy the complete rows of an earlier run's output, remembering what each row was scored from."""
        kept = 0
        with existing.open("rb") as source:
            for number, raw in enumerate(source, start=1):
                if not raw.endswith(b"\n"):
                    break  # a line cut short (written by something else): scored again
                try:
                    row = load_row(raw)
                except orjson.JSONDecodeError:
                    row = None
                if not isinstance(row, dict) or "status" not in row:
                    self.discard()
                    fail(f"--resume: line {number} of {self.path} is not a scored row; "
                         "it was not written by `rewardforge score` (use --force to replace it)")
                self.expected.append(_output_identity(row))
                self._handle.write(raw)
                kept += 1
        self.rows = kept

    def check_resumed(self, position: int, item: Record | BadLine) -> None:
        """The input line at `position` must be what the kept output row was scored from."""
        if row_identity(item) != self.expected[position]:
            self.discard()
            fail(f"--resume: row {position + 1} of {self.path} was not scored from line {item.line} of the "
                 "input; it comes from another input file (use --force to start over)")

    def write(self, line: bytes) -> None:
        self._handle.write(line)
        self.rows += 1

    def flush(self) -> None:
        self._handle.flush()

    def commit(self) -> None:
        """Make the rows written so far the output file (atomically, for a regular file)."""
        if self._handle.closed:
            return
        self._handle.flush()
        if self._temp is None or self._target is None:
            return
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._temp, self._target)
        self._temp = None

    def discard(self) -> None:
        """Forget this run's rows; an existing output stays as it was."""
        if self._temp is None:
            return
        self._handle.close()
        self._temp.unlink(missing_ok=True)
        self._temp = None


def _default_mode() -> int:
    """The mode a new file gets under the current umask (a temporary file starts at 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
