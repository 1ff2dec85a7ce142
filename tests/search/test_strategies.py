"""Search strategies against exact references: any-correct shares, brute-force vote counts, greedy decoding."""

from collections import Counter

import pytest

from arborlab.completions import complete
from arborlab.evaluate import maj_at_k
from arborlab.search import STRATEGIES, Policy, SearchConfig, SearchContext
from arborlab.search.verifiers import OracleVerifier
from arborlab.text import extract_answer


def run(toy, strategy, **settings):
    model, tokenizer, task, problems = toy
    context = SearchContext(Policy(model, tokenizer, max_new_tokens=60), OracleVerifier(task), task, SearchConfig(**settings))
    return STRATEGIES[strategy](context, problems)


def correct(task, problem, text):
    return task.verify(problem, text).correct


def test_best_of_n_with_the_oracle_solves_exactly_the_problems_with_a_correct_sample(toy):
    _, _, task, problems = toy
    results = run(toy, "best-of-n", budget=6, seed=1)
    any_correct = [any(correct(task, p, c) for c in r.candidates) for p, r in zip(problems, results)]
    chosen = [correct(task, p, r.completion) for p, r in zip(problems, results)]
    assert all(len(r.candidates) == 6 for r in results)
    assert chosen == any_correct
    mixed = [0 < sum(correct(task, p, c) for c in r.candidates) < 6 for p, r in zip(problems, results)]
    assert any(mixed), "the toy model should give some problems both right and wrong samples"


def _keys(task, problem, texts):
    return [None if extract_answer(t) is None else task.answer_key(problem, extract_answer(t)) for t in texts]


def test_majority_vote_equals_a_brute_force_count(toy):
    _, _, task, problems = toy
    results = run(toy, "vote", budget=7, seed=2)
    untied = []
    for problem, result in zip(problems, results):
        keys = _keys(task, problem, result.candidates)
        counts = Counter(k for k in keys if k is not None)
        top = max(counts.values())
        winners = [k for k in counts if counts[k] == top]
        chosen = _keys(task, problem, [result.completion])[0]
        assert counts[chosen] == top
        if len(winners) == 1:
            assert chosen == winners[0]
            verdicts = [correct(task, problem, c) for c in result.candidates]
            untied.append((correct(task, problem, result.completion), maj_at_k([str(k) for k in keys], verdicts, 7)))
    assert untied and all(float(ours) == pytest.approx(reference) for ours, reference in untied)


def test_weighted_vote_with_the_oracle_picks_a_correct_answer_whenever_one_was_sampled(toy):
    _, _, task, problems = toy
    results = run(toy, "weighted-vote", budget=6, seed=1, aggregate="last")
    for problem, result in zip(problems, results):
        assert correct(task, problem, result.completion) == any(correct(task, problem, c) for c in result.candidates)


@pytest.mark.parametrize("strategy", ["greedy", "beam", "dvts"])
def test_width_one_greedy_step_search_equals_greedy_decoding(toy, strategy):
    model, tokenizer, task, problems = toy
    reference = complete(model, tokenizer, [task.prompt(p) for p in problems], 1, 0.0, 60)
    results = run(toy, strategy, budget=1, beam_width=1, temperature=0.0)
    assert [r.completion for r in results] == [per_prompt[0].text for per_prompt in reference]


def test_beam_search_keeps_n_over_m_beams_and_ends_with_n_answers(toy):
    _, _, task, problems = toy
    results = run(toy, "beam", budget=8, beam_width=4, seed=3)
    for problem, result in zip(problems, results):
        assert 1 <= len(result.candidates) <= 8 + 2 * 4  # one round may answer more than the rest it needs
        assert result.score == max(result.candidate_scores)
        assert result.budget.tokens > 0 and result.budget.flops > 0
