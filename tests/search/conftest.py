import pytest

from arborlab.models import load_model
from arborlab.tasks import get_task
from tests.search.toy import DIFFICULTY, TASK, toy_model_dir


@pytest.fixture(scope="session")
def toy():
    """(model, tokenizer, task, problems): the toy policy and 12 fresh problems of its task."""
    model, tokenizer = load_model(toy_model_dir())
    task = get_task(TASK)
    return model, tokenizer, task, list(task.problems(12, seed=123, difficulty=DIFFICULTY))
