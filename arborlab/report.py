"""Self-contained HTML reports (images inlined) and the matplotlib setup every plot shares."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402

from arborlab.io import atomic_file  # noqa: E402

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}
pre{background:#f6f6f6;padding:.8rem;overflow-x:auto}img{max-width:100%}
"""


def save_figure(figure, path: Path) -> Path:
    """Save a matplotlib figure as PNG (atomically) and close it."""
    with atomic_file(path, "wb") as stream:
        figure.savefig(stream, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def image(path: Path) -> str:
    """An <img> holding the PNG itself, so the report needs no other file."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(Path(path).name)}" src="data:image/png;base64,{data}">'


def table(rows: list[dict[str, Any]]) -> str:
    """An HTML table from a list of dicts (columns from the first row)."""
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in rows[0]) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return value if isinstance(value, str) else json.dumps(value)


def write_report(path: Path, title: str, sections: list[tuple[str, str]]) -> Path:
    """Write a self-contained report: a title and (heading, HTML body) sections."""
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style>"]
    parts.append(f"<h1>{html.escape(title)}</h1>")
    parts += [f"<h2>{html.escape(heading)}</h2>{body}" for heading, body in sections]
    with atomic_file(path) as stream:
        stream.write("\n".join(parts))
    return path
