"""Process and outcome reward models (PRM, ORM): a scoring head on a Hugging Face causal LM.

The model is transformers' ``AutoModelForTokenClassification`` with one label: the causal LM's
backbone (initialized from a policy folder) and a linear head giving a logit at every position.
A completion is scored at the newline that ends each step line and at the last token of its
answer, ``sigmoid(logit)`` being the chance that the step is good (still leads to a correct
answer) or that the answer is right. The folder it is saved in loads again with
``AutoModelForTokenClassification.from_pretrained``.

Training traces, per training problem: `samples` completions sampled from the policy, the task's
own shortest chain of thought, that chain with one step swapped for the step at the same place in
another problem's chain (an injected wrong step), and the task's search trace (dead ends,
backtracking and, in arithmetic, slips that a later step catches). Step labels come from

* ``exact``: the task's step checker: good when the step is valid and its state still solvable;
* ``mc-hard`` / ``mc-soft``: Math-Shepherd (Wang et al. 2024): `rollouts` completions are sampled
  from the policy after each step; the hard label is 1 when any reaches a correct answer, the soft
  label the share that does.

The outcome label (the task's verifier on the answer) is exact in every case. A PRM learns all
labels; an ORM only the outcome. The loss is binary cross-entropy with logits at the labelled
positions (soft labels welcome). With MC labels the run also reports how well they agree with the
exact ones (per-step precision, recall and ROC-AUC) as a function of the number of rollouts.
"""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from transformers import AutoModelForTokenClassification, get_cosine_schedule_with_warmup

from arborlab.errors import ArborError
from arborlab.journal import Journal, journal_beside
from arborlab.models import load_model, quiet_transformers, save_model
from arborlab.progress import progress_bar
from arborlab.runs import RunFolder, check_numbers
from arborlab.tasks import Problem, Task, get_task
from arborlab.text import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN, extract_answer, format_trace, split_steps
from arborlab.train.batches import prompt_ids

KINDS = ("prm", "orm")
LABELS = ("exact", "mc-hard", "mc-soft")


@dataclass
class Encoded:
    """A prompt + completion as token ids, and where it is scored.

    ids: [pos] token ids. positions: the index of the token ending each step line, then (when
    `answered`) of the answer's last token. answered: the completion holds an answer.
    """

    ids: list[int]
    positions: list[int]
    answered: bool


def encode_trace(tokenizer, prompt: str, completion: str, pieces: dict | None = None) -> Encoded:
    """Ids of ``<bos> prompt \\n <think>\\n`` + one line per step + the answer, with the scored positions.

    The completion is rebuilt from its steps and answer (see `arborlab.text`), piece by piece, so
    the position of every step end is known exactly. pieces: a memo of those pieces' ids, for
    callers that encode the same prompts and lines again and again (search scores every child of
    a beam, and each repeats its parent's lines).
    """
    pieces = {} if pieces is None else pieces

    def encoded(key: tuple[str, str]) -> list[int]:  # ("head", prompt) or ("piece", text)
        if key not in pieces:
            kind, text = key
            head = kind == "head"
            pieces[key] = prompt_ids(tokenizer, text) + _encode(tokenizer, THINK_OPEN + "\n") if head else _encode(tokenizer, text)
        return pieces[key]

    ids = list(encoded(("head", prompt)))
    positions = []
    for step in split_steps(completion):
        ids += encoded(("piece", step + "\n"))
        positions.append(len(ids) - 1)
    answer = extract_answer(completion)
    if answer is not None:
        ids += encoded(("piece", f"{THINK_CLOSE}{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"))
        positions.append(len(ids) - 1)
    return Encoded(ids, positions, answer is not None)


def _encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _logits(model, batch: Sequence[Encoded], pad_id: int) -> list[torch.Tensor]:
    """The head's logit at each scored position of each item: a list of [positions] tensors.

    Items are right-padded; under a causal mask padding never reaches a real token.
    """
    width = max(len(item.ids) for item in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long, device=model.device)
    for row, item in enumerate(batch):
        input_ids[row, : len(item.ids)] = torch.tensor(item.ids, device=model.device)
    logits = model(input_ids=input_ids).logits[..., 0]  # [batch, pos]
    return [logits[row, item.positions] for row, item in enumerate(batch)]


def score_positions(model, items: Sequence[Encoded], batch_size: int = 64) -> list[list[float]]:
    """sigmoid(logit) at each item's scored positions, batched; one list of scores per item."""
    scores: list[list[float]] = []
    pad_id = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(items), batch_size):
            scores += [row.sigmoid().tolist() for row in _logits(model, items[start: start + batch_size], pad_id)]
    model.train(was_training)
    return scores


def load_scorer(folder: Path | str):
    """A saved PRM/ORM (a ``train prm`` run folder or its final/ folder) as (model, tokenizer)."""
    from transformers import AutoTokenizer

    folder = Path(folder)
    if (folder / "final").is_dir():
        folder = folder / "final"
    if not (folder / "config.json").is_file():
        raise ArborError(f"{folder} is not a PRM/ORM folder: it has no config.json (train one with 'arbor train prm').")
    try:
        with quiet_transformers():
            model = AutoModelForTokenClassification.from_pretrained(folder).eval()
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError, KeyError) as error:
        raise ArborError(f"the PRM/ORM in {folder} cannot be loaded: {str(error).splitlines()[0].rstrip('.')}.") from None
    if model.config.num_labels != 1:
        raise ArborError(f"{folder} holds a model with {model.config.num_labels} labels, not a one-score PRM/ORM head.")
    return model, tokenizer


# ---- labels ------------------------------------------------------------------------------------


def exact_step_labels(task: Task, problem: Problem, completion: str) -> list[float]:
    """1.0 for each step the step checker finds valid and still solvable, else 0.0."""
    return [float(check.valid and check.solvable) for check in task.check_steps(problem, split_steps(completion))]


def outcome_label(task: Task, problem: Problem, completion: str) -> float:
    return float(task.verify(problem, completion).correct)


def rollout_verdicts(policy, task: Task, problems: Sequence[Problem], completions: Sequence[str], rollouts: int,
                     temperature: float, seed: int, show_progress: bool = False,
                     journal: Journal | None = None) -> list[list[list[bool]]]:
    """Math-Shepherd rollouts: for each completion and step, whether each of `rollouts` continuations
    written by the policy after that step reaches a correct answer. → [trace][step][rollout].

    All rollouts of all traces go through the policy in batched calls; with a `journal`, each call's
    verdicts are recorded as it ends, and calls a run before finished are not made again.
    """
    from arborlab.search.budget import Budget

    roots = policy.roots(task, problems)
    starts, where = [], []
    for index, completion in enumerate(completions):
        steps = split_steps(completion)
        for step_index in range(len(steps)):
            prefix = policy.append(roots[index], "".join(line + "\n" for line in steps[: step_index + 1]))
            starts += [prefix] * rollouts
            where += [(index, step_index)] * rollouts
    verdicts: list[list[list[bool]]] = [[[] for _ in split_steps(c)] for c in completions]
    budgets = [Budget() for _ in problems]
    chunk = policy.batch_size

    def chunk_verdicts(start: int) -> list[bool]:
        policy.prefix_cache.clear()  # each chunk on its own, so a resumed run equals a straight one
        written = policy.complete(starts[start: start + chunk], budgets, temperature, seed + start)
        return [task.verify(problems[trace.owner], policy.text(trace)).correct for trace in written]

    with progress_bar("rollouts", total=len(starts), enabled=show_progress, unit="rollouts") as advance:
        for start in range(0, len(starts), chunk):
            correct = chunk_verdicts(start) if journal is None else journal.piece(f"rollouts from {start}", lambda: chunk_verdicts(start))
            for ok, (index, step_index) in zip(correct, where[start: start + chunk]):
                verdicts[index][step_index].append(ok)
            advance(len(correct))
    return verdicts


def agreement(verdicts: Sequence[Sequence[Sequence[bool]]], exact: Sequence[Sequence[float]], ns: Sequence[int]) -> list[dict]:
    """How well Math-Shepherd estimates from the first n rollouts agree with the exact step labels.

    Per n: precision and recall of the hard estimate (any rollout correct) for the class "good step",
    and the ROC-AUC of the soft estimate (share correct) against the exact labels.
    """
    from sklearn.metrics import precision_score, recall_score, roc_auc_score

    truth = [int(label) for labels in exact for label in labels]
    rows = []
    for n in ns:
        soft = [sum(step[:n]) / n for trace in verdicts for step in trace]
        hard = [int(value > 0) for value in soft]
        both = 0 < sum(truth) < len(truth)
        rows.append({
            "rollouts": n,
            "precision": float(precision_score(truth, hard, zero_division=0)),
            "recall": float(recall_score(truth, hard, zero_division=0)),
            "roc_auc": float(roc_auc_score(truth, soft)) if both else None,
            "steps": len(truth),
        })
    return rows


# ---- training ----------------------------------------------------------------------------------


# `arbor train prm` flags of the settings, named in its messages: they are set only through it
FLAGS = {"rollouts": "--rollouts", "n_problems": "--problems", "eval_problems": "--eval-problems",
         "max_steps": "--max-steps", "batch_size": "--batch-size", "learning_rate": "--lr"}


@dataclass
class PRMConfig:
    """Everything a PRM/ORM run needs; written to the run's config.toml."""

    policy: str = ""  # model folder: the backbone, and the policy whose traces are labelled
    task: str = "countdown"
    difficulty: dict[str, Any] = field(default_factory=dict)
    kind: str = "prm"  # prm (step and outcome labels) or orm (outcome only)
    labels: str = "exact"  # exact, mc-hard or mc-soft
    rollouts: int = 8  # Math-Shepherd rollouts per step (mc labels)
    n_problems: int = 400  # training problems (held-out ones come from the test split, by problem hash)
    eval_problems: int = 100
    samples: int = 2  # policy completions per problem
    temperature: float = 1.0
    max_new_tokens: int = 256
    max_steps: int = 300
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup_steps: int = 20
    seed: int = 0

    def check(self) -> None:
        if self.kind not in KINDS:
            raise ArborError(f"--kind must be one of {', '.join(KINDS)}, got '{self.kind}'.")
        if self.labels not in LABELS:
            raise ArborError(f"--labels must be one of {', '.join(LABELS)}, got '{self.labels}'.")
        if self.samples < 0:
            raise ArborError(f"--samples must be 0 (the task's own traces only) or more, got {self.samples}.")
        check_numbers(self, at_least_one=("rollouts", "n_problems", "eval_problems", "max_steps", "batch_size"),
                      positive=("learning_rate",), shown=FLAGS)


def with_wrong_step(task: Task, problems: Sequence[Problem], rng: random.Random) -> list[str]:
    """Each problem's chain of thought with one step swapped for the step at the same place in the next
    problem's chain (its last step when shorter): a wrong step injected into a good trace."""
    chains = [task.trace(problem, "cot") for problem in problems]
    corrupted = []
    for index, chain in enumerate(chains):
        steps, other = split_steps(chain), split_steps(chains[(index + 1) % len(chains)])
        if steps and other:
            at = rng.randrange(len(steps))
            steps[at] = other[min(at, len(other) - 1)]
        corrupted.append(format_trace(steps, extract_answer(chain) or ""))
    return corrupted


def make_traces(policy, task: Task, problems: list[Problem], config: PRMConfig, seed: int) -> tuple[list[Problem], list[str]]:
    """Per problem: `samples` policy completions, the task's chain of thought, that chain with a wrong
    step, and the task's search trace (dead ends, backtracking and, in arithmetic, caught slips)."""
    from arborlab.search.budget import Budget

    roots = [root for root in policy.roots(task, problems) for _ in range(config.samples)]
    written = policy.complete(roots, [Budget() for _ in problems], config.temperature, seed)
    owners = [problems[trace.owner] for trace in written] + problems + problems
    texts = [policy.text(trace) for trace in written] + [task.trace(p, "cot") for p in problems]
    texts += with_wrong_step(task, problems, random.Random(seed))
    owners += problems
    texts += [task.trace(p, "search", rng=random.Random(f"{seed}:{i}")) for i, p in enumerate(problems)]
    return owners, texts


def label_traces(task: Task, problems: Sequence[Problem], texts: Sequence[str], kind: str,
                 step_labels: Sequence[Sequence[float]]) -> list[list[float]]:
    """The labels at each trace's scored positions: step labels (PRM only), then the outcome when answered."""
    labels = []
    for problem, text, steps in zip(problems, texts, step_labels):
        outcome = [outcome_label(task, problem, text)] if extract_answer(text) is not None else []
        labels.append((list(steps) if kind == "prm" else []) + outcome)
    return labels


def train_prm(config: PRMConfig, out: Path | str, overwrite: bool = False, show_progress: bool = True) -> dict:
    """Train a PRM/ORM in the run folder `out`; returns the held-out evaluation (also in eval.json)."""
    from arborlab.search.steps import Policy

    config.check()
    task = get_task(config.task)
    config.difficulty = task.difficulty(config.difficulty)
    run = RunFolder(out)
    if run.path.exists() and not overwrite:
        raise ArborError(f"the output folder {run.path} already exists; pass --overwrite to replace it.")
    policy_model, tokenizer = load_model(config.policy)
    if tokenizer is None:
        raise ArborError(f"{config.policy} has no tokenizer; save one beside the model.")
    policy = Policy(policy_model, tokenizer, max_new_tokens=config.max_new_tokens)
    from arborlab.search.scaling import problems_by_split

    splits = problems_by_split(task, {"train": config.n_problems, "test": config.eval_problems}, config.seed, config.difficulty)
    train_problems, eval_problems = splits["train"], splits["test"]
    # An interrupted run resumes: the traces and each batch of rollouts are journalled as they end.
    journal = Journal(journal_beside(run.path), discard=overwrite,
                      settings=dict(dataclasses.asdict(config), policy=str(Path(config.policy).resolve())))
    owners, texts = journal.piece("training traces", lambda: make_traces(policy, task, train_problems, config, config.seed))
    exact = [exact_step_labels(task, p, t) for p, t in zip(owners, texts)]
    report: dict[str, Any] = {}
    steps = exact
    if config.labels != "exact" and config.kind == "prm":
        verdicts = rollout_verdicts(policy, task, owners, texts, config.rollouts, config.temperature, config.seed + 1,
                                    show_progress, journal)
        ns = [n for n in (1, 2, 4, 8, 16, 32, 64, 128, 256) if n < config.rollouts] + [config.rollouts]
        report["agreement"] = agreement(verdicts, exact, ns)
        hard = config.labels == "mc-hard"
        steps = [[float(any(v)) if hard else sum(v) / len(v) for v in trace] for trace in verdicts]
    labels = label_traces(task, owners, texts, config.kind, steps)

    torch.manual_seed(config.seed)
    with quiet_transformers(load_reports=True):  # the scoring head is new, on purpose
        model = AutoModelForTokenClassification.from_pretrained(config.policy, num_labels=1)
    examples = []
    for problem, text, targets in zip(owners, texts, labels):
        item = encode_trace(tokenizer, task.prompt(problem), text)
        if config.kind == "orm":
            item.positions = item.positions[-1:] if item.answered else []
        if targets:
            examples.append((item, targets))
    losses = fit(model, examples, config, tokenizer.pad_token_id or 0, show_progress)

    held_owners, held_texts = journal.piece("held-out traces", lambda: make_traces(policy, task, eval_problems, config, config.seed + 2))
    report.update(evaluate_scorer(model, tokenizer, task, held_owners, held_texts))
    report.update(kind=config.kind, labels=config.labels, train_traces=len(examples), final_loss=losses[-1])
    _write_run(run, config, model, tokenizer, losses, report, overwrite)
    journal.finish()
    return report


def fit(model, examples: list[tuple[Encoded, list[float]]], config: PRMConfig, pad_id: int, show_progress: bool) -> list[float]:
    """AdamW with warmup and cosine decay on binary cross-entropy at the labelled positions; the losses."""
    if not examples:
        raise ArborError("no training trace has a label; sample more problems or lengthen --max-new-tokens.")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.01)
    schedule = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.max_steps)
    rng = random.Random(config.seed)
    order: list[int] = []
    losses = []
    model.train()
    with progress_bar("prm", total=config.max_steps, enabled=show_progress, unit="steps") as advance:
        for _ in range(config.max_steps):
            if len(order) < config.batch_size:
                order += rng.sample(range(len(examples)), len(examples))
            batch = [examples[i] for i in order[: config.batch_size]]
            del order[: config.batch_size]
            logits = torch.cat(_logits(model, [item for item, _ in batch], pad_id))
            targets = torch.tensor([y for _, labels in batch for y in labels], dtype=logits.dtype)
            loss = F.binary_cross_entropy_with_logits(logits, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            advance(1)
    model.eval()
    return losses


def evaluate_scorer(model, tokenizer, task: Task, problems: Sequence[Problem], texts: Sequence[str]) -> dict:
    """Step and outcome ROC-AUC of a scorer against exact labels on (held-out) traces."""
    from sklearn.metrics import roc_auc_score

    items = [encode_trace(tokenizer, task.prompt(p), t) for p, t in zip(problems, texts)]
    scores = score_positions(model, items)
    step_truth, step_scores, outcome_truth, outcome_scores = [], [], [], []
    for problem, text, item, row in zip(problems, texts, items, scores):
        labels = exact_step_labels(task, problem, text)
        step_truth += labels
        step_scores += row[: len(labels)]
        if item.answered:
            outcome_truth.append(outcome_label(task, problem, text))
            outcome_scores.append(row[-1])

    def auc(truth, values):
        return float(roc_auc_score(truth, values)) if 0 < sum(truth) < len(truth) else None

    return {
        "step_roc_auc": auc(step_truth, step_scores), "outcome_roc_auc": auc(outcome_truth, outcome_scores),
        "eval_steps": len(step_truth), "eval_good_step_share": sum(step_truth) / max(len(step_truth), 1),
        "eval_traces": len(items),
    }


def _write_run(run: RunFolder, config: PRMConfig, model, tokenizer, losses: list[float], report: dict, overwrite: bool) -> None:
    """The run folder: config.toml, metrics.jsonl, final/ (the scorer), eval.json, plots, report.html."""
    from arborlab.io import atomic_directory
    from arborlab.report import image, plt, save_figure, table, write_report

    with atomic_directory(run.path, overwrite=overwrite) as staging:
        staged = RunFolder(staging)
        staged.write_config(dataclasses.asdict(config))
        for step, loss in enumerate(losses, start=1):
            staged.append_metrics({"step": step, "loss": loss})
        save_model(model, tokenizer, staged.final)
        (staging / "eval.json").write_text(json.dumps(report, indent=2))
        figure, axis = plt.subplots(figsize=(6, 3.5))
        axis.plot(range(1, len(losses) + 1), losses)
        axis.set(xlabel="step", ylabel="binary cross-entropy", title=f"{config.kind.upper()} training loss")
        sections = [("training loss", image(save_figure(figure, staging / "loss.png"))),
                    ("held-out evaluation (exact labels)", table([{k: v for k, v in report.items() if k != "agreement"}]))]
        if "agreement" in report:
            figure, axis = plt.subplots(figsize=(6, 3.5))
            rows = report["agreement"]
            for metric in ("precision", "recall", "roc_auc"):
                axis.plot([r["rollouts"] for r in rows], [r[metric] for r in rows], marker="o", label=metric)
            axis.set(xscale="log", xlabel="rollouts per step (N)", ylabel="agreement with exact labels", ylim=(0, 1.02))
            axis.legend()
            sections.append(("Math-Shepherd labels against exact step labels",
                             image(save_figure(figure, staging / "agreement.png")) + table(rows)))
        write_report(staging / "report.html", f"{config.kind.upper()} on {config.task}", sections)
