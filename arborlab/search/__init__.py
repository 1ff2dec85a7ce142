"""Test-time compute: search strategies over a policy's completions, guided by verifiers.

Each strategy is one module with ``search(context, problems) -> list[SearchResult]``; `STRATEGIES`
(in `arborlab.search.strategies`) finds them by the names the CLI uses. The names below load on
first use, so importing the package (as the CLI does) stays cheap.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "STRATEGIES": "arborlab.search.strategies",
    "Budget": "arborlab.search.budget",
    "Policy": "arborlab.search.steps",
    "SearchConfig": "arborlab.search.base",
    "SearchContext": "arborlab.search.base",
    "SearchResult": "arborlab.search.base",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'arborlab.search' has no attribute '{name}'")
    return getattr(importlib.import_module(_HOMES[name]), name)
