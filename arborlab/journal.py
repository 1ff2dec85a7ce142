"""Finished pieces of a long job on disk, so that the job resumes where it was interrupted.

A journal is a folder (``arbor scaling`` and ``arbor train prm`` keep it beside their output, as
``OUT.partial``) holding ``settings.json``, what the job was asked to do, and ``pieces.jsonl``, one
line per finished piece of work (a key and its JSON value), appended and flushed as each piece
ends. A rerun with the same settings reads the pieces back and skips them; a kill mid-line loses
only that line. Once the job has written its output, `finish` removes the journal.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

from arborlab.errors import ArborError
from arborlab.io import atomic_file
from arborlab.progress import stderr_console


def journal_beside(output: Path | str) -> Path:
    """Where the journal of a job writing `output` (a file or folder) lies: ``OUTPUT.partial`` beside it."""
    output = Path(output).resolve()  # so that "." has a name too
    return output.with_name(output.name + ".partial")


class Journal:
    """The finished pieces of one job. settings: JSON-able; a journal with other settings is refused
    (or discarded when `discard`), so a rerun never mixes pieces of two different jobs."""

    def __init__(self, folder: Path | str, settings: dict[str, Any], discard: bool = False):
        self.folder = Path(folder)
        self.settings = json.loads(json.dumps(settings))  # tuples → lists, as they read back
        self.pieces_path = self.folder / "pieces.jsonl"
        self.done: dict[str, Any] = {}
        self._stale = False  # a journal of other settings, to discard at the first write
        self._torn = False  # pieces.jsonl ends in a line a kill cut short: start the next one on a new line
        settings_path = self.folder / "settings.json"
        if settings_path.is_file():
            before = json.loads(settings_path.read_text())
            if before != self.settings:
                if not discard:
                    changed = sorted(k for k in set(before) | set(self.settings) if before.get(k) != self.settings.get(k))
                    raise ArborError(f"{self.folder} holds an interrupted run with other settings ({', '.join(changed)}); "
                                     "rerun with those settings to finish it, or pass --overwrite to discard it.")
                self._stale = True
            elif self.pieces_path.is_file():
                text = self.pieces_path.read_text()
                self._torn = bool(text) and not text.endswith("\n")
                for line in text.splitlines():
                    try:
                        piece = json.loads(line)
                    except json.JSONDecodeError:  # the line a kill cut short
                        continue
                    self.done[piece["key"]] = piece["value"]
                if self.done:
                    stderr_console.print(f"resuming the interrupted run journalled in {self.folder} "
                                         f"({len(self.done)} finished pieces)")

    def piece(self, key: str, make: Callable[[], Any]) -> Any:
        """The value of piece `key`: read back when a run before finished it, else ``make()``, recorded.

        Either way it is what JSON reads back (tuples become lists), so a resumed run computes on
        exactly what a straight one does. The folder is made at the first record, so a job that
        fails before finishing any piece leaves nothing behind.
        """
        if key not in self.done:
            line = json.dumps({"key": key, "value": make()})
            self._prepare_folder()
            with open(self.pieces_path, "a", encoding="utf-8") as stream:
                stream.write(("\n" if self._torn else "") + line + "\n")
                self._torn = False
                stream.flush()
                os.fsync(stream.fileno())
            self.done[key] = json.loads(line)["value"]
        return self.done[key]

    def _prepare_folder(self) -> None:
        if self._stale:
            shutil.rmtree(self.folder)
            self._stale = False
        self.folder.mkdir(parents=True, exist_ok=True)
        settings_path = self.folder / "settings.json"
        if not settings_path.is_file():
            with atomic_file(settings_path) as stream:
                json.dump(self.settings, stream, indent=2)

    def finish(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
