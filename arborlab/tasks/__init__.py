"""The task suite: every module in this package defines one task and registers it by name.

    from arborlab.tasks import get_task
    task = get_task("countdown")
    problem = next(task.problems(1, seed=0))
    print(task.prompt(problem), task.trace(problem, style="search", order="dfs"))
"""

import importlib
import pkgutil

from arborlab.tasks.base import (  # noqa: F401  (the public API of the package)
    SEARCH_ORDERS,
    STYLES,
    Knob,
    Problem,
    StepCheck,
    Task,
    Verdict,
    get_task,
    register,
    task_names,
)

_NOT_TASKS = {"base", "reasoning_gym"}
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _NOT_TASKS:
        importlib.import_module(f"{__name__}.{_module.name}")
