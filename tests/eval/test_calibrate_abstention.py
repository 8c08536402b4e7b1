"""Where `python -m eval.calibrate_abstention --write` puts the weights it fits."""

from __future__ import annotations

import json
from pathlib import Path

from citeqa.config import Settings, packaged_reader_path
from eval.calibrate_abstention import _replace_unfit_model, weights_file
from service.answering.abstention import FEATURES, MODEL_PATH, calibration_for, load_model


def test_weights_go_beside_the_shipped_model_or_into_the_named_readers_folder(
    tmp_path: Path,
) -> None:
    shipped = Settings(_env_file=None)  # type: ignore[call-arg]
    named = Settings(_env_file=None, reader_model=str(packaged_reader_path()))  # type: ignore[call-arg]
    other = Settings(_env_file=None, reader_model=str(tmp_path))  # type: ignore[call-arg]

    assert weights_file(shipped) == weights_file(named) == MODEL_PATH
    assert weights_file(other) == tmp_path / "abstention.json"


def test_an_unfit_file_of_a_readers_own_gives_way_to_a_neutral_one(tmp_path: Path) -> None:
    target = tmp_path / "abstention.json"
    target.write_text(json.dumps({"features": ["reader"], "weights": [1.0], "bias": 0.0}))
    shipped = MODEL_PATH.read_bytes()

    _replace_unfit_model(target)

    model = load_model(calibration_for(tmp_path))
    assert model.weights == (0.0,) * len(FEATURES) and model.bias == 0.0
    assert MODEL_PATH.read_bytes() == shipped  # the shipped reader's weights untouched
