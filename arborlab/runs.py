"""A run is a folder (DESIGN.md, decision 4).

    runs/NAME/
      config.toml          everything needed to rerun it
      metrics.jsonl        one JSON object per logged step
      checkpoints/step-N/  save_pretrained folder + trainer_state.pt (optimizer, schedule, RNG)
      final/               the finished model with its tokenizer
      *.png, report.html   plots and a self-contained report
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any, Callable

import tomli_w

from arborlab.errors import ArborError
from arborlab.io import atomic_file

CHECKPOINT_NAME = re.compile(r"step-(\d+)")


class RunFolder:
    """Paths and small read/write helpers for one run folder."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def final(self) -> Path:
        return self.path / "final"

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"step-{step}"

    def write_config(self, config: dict[str, Any]) -> None:
        """Write config.toml (None values are left out: TOML has no null)."""
        with atomic_file(self.config_path, "wb") as stream:
            tomli_w.dump({k: v for k, v in config.items() if v is not None}, stream)

    def read_config(self) -> dict[str, Any]:
        if not self.config_path.is_file():
            raise ArborError(f"{self.path} is not a run folder: it has no config.toml.")
        return read_toml(self.config_path)

    def append_metrics(self, record: dict[str, Any]) -> None:
        with open(self.metrics_path, "a") as stream:
            stream.write(json.dumps(record) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.is_file():
            return []
        records = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short by a kill
                continue
        return records

    def keep_metrics_until(self, step: int) -> None:
        """Drop logged records past `step` (they are redone after resuming from that checkpoint)."""
        kept = [r for r in self.read_metrics() if r.get("step", 0) <= step]
        with atomic_file(self.metrics_path) as stream:
            stream.writelines(json.dumps(r) + "\n" for r in kept)

    def checkpoint_steps(self) -> list[int]:
        """Steps of the complete checkpoints, ascending (a checkpoint is complete once renamed in)."""
        if not self.checkpoints.is_dir():
            return []
        steps = [int(m.group(1)) for p in self.checkpoints.iterdir() if (m := CHECKPOINT_NAME.fullmatch(p.name))]
        return sorted(steps)

    def prune_checkpoints(self, keep: int) -> None:
        """Delete all but the newest `keep` checkpoints."""
        for step in self.checkpoint_steps()[:-keep]:
            shutil.rmtree(self.checkpoint(step), ignore_errors=True)


def read_toml(path: Path | str) -> dict[str, Any]:
    """A TOML file as a dict, with one clear sentence when it is not valid TOML."""
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        raise ArborError(f"{path} does not exist.") from None
    except tomllib.TOMLDecodeError as error:
        raise ArborError(f"{path} is not valid TOML: {error}.") from None


def config_from_dict(config_class: type, values: dict[str, Any], what: str):
    """An instance of the dataclass `config_class` from `values`; unknown keys get one sentence naming them."""
    names = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ArborError(f"unknown {what} setting(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}.")
    return config_class(**values)


def check_numbers(config, *, at_least_one: tuple[str, ...] = (), at_least_zero: tuple[str, ...] = (),
                  positive: tuple[str, ...] = (), shown: dict[str, str] | None = None) -> None:
    """Refuse, with one sentence naming the setting, a config field below its least value: counts of
    at least 1 or 0, and positive finite numbers (learning rates, clipping norms). `shown` names a
    field as its user sets it (e.g. ``{"learning_rate": "--lr"}``); by default the field's own name."""
    shown = shown or {}
    for names, least in ((at_least_one, 1), (at_least_zero, 0)):
        for name in names:
            if getattr(config, name) < least:
                raise ArborError(f"{shown.get(name, name)} must be at least {least}, got {getattr(config, name)}.")
    for name in positive:
        value = getattr(config, name)
        if not (value > 0 and math.isfinite(value)):
            raise ArborError(f"{shown.get(name, name)} must be a positive number, got {value}.")


def start_run(run: RunFolder, config, resume: bool, overwrite: bool, prepare: Callable[[Any], None],
              writer: bool = True, sync: Callable[[], None] = lambda: None):
    """The config of a run folder: read back from config.toml when resuming; otherwise `prepare(config)`
    (checks that raise ArborError before anything is written), then a fresh folder holding config.toml.

    Under data parallelism every process calls it with `sync` = a barrier and only one as `writer`:
    all look for an existing run before the writer writes, so none mistakes the new one for an old one.
    """
    already_there = run.config_path.exists()
    sync()
    if resume:
        return config_from_dict(type(config), run.read_config(), type(config).__name__)
    if already_there and not overwrite:
        raise ArborError(f"{run.path} already holds a run; pass --resume to continue it or --overwrite to start again.")
    prepare(config)
    if writer:
        if overwrite and run.path.exists():
            shutil.rmtree(run.path)
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_config(dataclasses.asdict(config))
    return config
