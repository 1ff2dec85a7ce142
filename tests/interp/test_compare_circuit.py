"""The research check (slow, minutes): a compare model trained by SFT, its decision components, and their necessity."""

import json

import pytest

from arborlab.studies.compare_circuit import CircuitStudy, run_compare_circuit


@pytest.mark.slow
def test_the_top_components_are_causally_necessary(tmp_path):
    summary = run_compare_circuit(CircuitStudy(max_steps=800, n_pairs=32, n_eval=128), tmp_path, show_progress=False)
    assert summary["accuracy"] >= 0.9
    top, bottom = summary["necessity"][0], summary["necessity"][1]
    assert top["label"].startswith("top") and bottom["label"].startswith("bottom")
    assert top["noising"] < 0.2 < bottom["noising"]  # noising the top components removes most of the decision
    assert top["denoising"] > 0.8  # and putting them back restores it
    assert json.loads((tmp_path / "summary.json").read_text())["ranking"] == summary["ranking"]
    assert (tmp_path / "report.html").read_text().count("data:image/png;base64") == 5
