"""The weights' exponential moving average against a hand-computed one, and SFT runs that keep it."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from arborlab.errors import ArborError
from arborlab.train import sft
from arborlab.train.ema import decay_after, weight_average
from arborlab.train.sft import SFTConfig, train_sft
from tests.test_sft import tiny_config


def test_the_average_is_the_warmed_up_exponential_average_of_every_step():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    averaged = weight_average(model, decay=0.9)
    expected = None
    for updates in range(30):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        current = [p.detach().clone() for p in model.parameters()]
        if expected is None:  # the first update copies the weights
            expected = current
        else:
            d = min(0.9, (1 + updates) / (10 + updates))
            expected = [d * e + (1 - d) * c for e, c in zip(expected, current)]
        averaged.update_parameters(model)
    for got, want in zip(averaged.module.parameters(), expected):
        torch.testing.assert_close(got, want)
    assert decay_after(0.998, 0) == pytest.approx(0.1) and decay_after(0.998, 10_000) == 0.998


def _config(**overrides) -> SFTConfig:
    return tiny_config(**{"ema_decay": 0.9, **overrides})


def test_an_ema_run_interrupted_after_a_checkpoint_resumes_to_the_same_average(tmp_path, monkeypatch):
    train_sft(_config(), tmp_path / "straight", show_progress=False)
    real_loss, calls = sft.completion_loss, []

    def failing_loss(*args, **kwargs):
        calls.append(1)
        if len(calls) == 15:
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(sft, "completion_loss", failing_loss)
    with pytest.raises(KeyboardInterrupt):
        train_sft(_config(), tmp_path / "broken", show_progress=False)
    monkeypatch.setattr(sft, "completion_loss", real_loss)
    train_sft(_config(), tmp_path / "broken", resume=True, show_progress=False)
    straight = dict(AutoModelForCausalLM.from_pretrained(tmp_path / "straight" / "final").state_dict())
    resumed = dict(AutoModelForCausalLM.from_pretrained(tmp_path / "broken" / "final").state_dict())
    for name, weight in straight.items():
        torch.testing.assert_close(resumed[name], weight, rtol=1e-5, atol=1e-6)
    # the saved model is the average, not the last step's weights (the same run without an EMA saves those)
    train_sft(_config(ema_decay=0.0), tmp_path / "last", show_progress=False)
    last = dict(AutoModelForCausalLM.from_pretrained(tmp_path / "last" / "final").state_dict())
    assert max(float((weight - last[name]).abs().max()) for name, weight in straight.items()) > 1e-5


@pytest.mark.parametrize("setting", [{"ema_decay": 1.0}, {"ema_decay": -0.1}, {"long_example_repeats": 0}])
def test_bad_averaging_or_repeat_settings_are_refused_before_any_work(tmp_path, setting):
    config = _config()
    for name, value in setting.items():
        setattr(config, name, value)
    with pytest.raises(ArborError):
        train_sft(config, tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run" / "data").exists()
