"""Model artifacts: compressed, atomic, and refused under another format or scikit-learn."""

import gzip
import pickle

import numpy as np
import pytest
import sklearn

from pipeline.artifacts import load_artifact, save_artifact


def test_an_artifact_is_written_compressed_and_reads_back(tmp_path):
    model = {"vocabulary": {f"价格{n}": n for n in range(2000)}, "coef": np.arange(6, dtype=np.float32)}
    path = save_artifact(model, tmp_path / "models" / "tagger.pkl", 4)
    data = path.read_bytes()
    assert data[:2] == b"\x1f\x8b" and len(data) < len(pickle.dumps(model)) / 2
    loaded = load_artifact(path, 4, "keynode train-tagger")
    assert loaded["vocabulary"] == model["vocabulary"]
    np.testing.assert_array_equal(loaded["coef"], model["coef"])
    assert [p.name for p in path.parent.iterdir()] == ["tagger.pkl"]  # no temporary left behind


def test_an_uncompressed_artifact_from_before_still_loads(tmp_path):
    path = tmp_path / "sentiment.pkl"
    path.write_bytes(pickle.dumps({"format": 1, "sklearn": sklearn.__version__, "model": [1, 2]}))
    assert load_artifact(path, 1, "keynode train-sentiment") == [1, 2]


@pytest.mark.parametrize("written", [{"format": 3, "sklearn": sklearn.__version__}, {"format": 4, "sklearn": "0.24.2"}])
def test_another_format_or_scikit_learn_is_refused_with_the_command_that_retrains(tmp_path, written):
    path = tmp_path / "tagger.pkl"
    path.write_bytes(gzip.compress(pickle.dumps({**written, "model": None})))
    with pytest.raises(ValueError, match=r"tagger\.pkl was written by format .*retrain with `keynode train-tagger`"):
        load_artifact(path, 4, "keynode train-tagger")
