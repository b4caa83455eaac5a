"""Export refusals come before any work, name the reason, and leave nothing behind; the
atomic writer never leaves a half-written file under the final name."""

import pytest

from tests.tiny_configs import TINY, TINY_DECODER
from videomae_tf import VideoMAEClassifier, VideoMAEPretrainer
from videomae_tf import export
from videomae_tf.files import partial_path, replacing, write_text_atomic


def test_refusals_name_the_reason(tmp_path, monkeypatch):
    classifier = VideoMAEClassifier(num_classes=3, **TINY)
    pretrainer = VideoMAEPretrainer(**TINY, **TINY_DECODER)
    with pytest.raises(export.ExportError, match="only classifiers export to onnx"):
        export.export_model(pretrainer, tmp_path / "p.onnx", "onnx")
    with pytest.raises(export.ExportError, match="unknown export format 'tensorrt'"):
        export.export_model(classifier, tmp_path / "m", "tensorrt")
    with pytest.raises(export.ExportError, match="litert exports are .tflite files"):
        export.export_model(classifier, tmp_path / "m.onnx", "litert")
    (tmp_path / "taken.onnx").write_text("someone's file")
    with pytest.raises(export.ExportError, match="exists"):
        export.export_model(classifier, tmp_path / "taken.onnx", "onnx")
    assert (tmp_path / "taken.onnx").read_text() == "someone's file"
    monkeypatch.setattr(export, "SINGLE_FILE_LIMIT", 1000)  # as if the model were ViT-g
    with pytest.raises(export.ExportError, match="holds at most 2 GiB"):
        export.check_exportable(classifier, "litert")
    monkeypatch.setattr(export.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(export.ExportError, match="pip install tf2onnx onnx onnxruntime"):
        export.check_exportable(classifier, "onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.onnx"]


def test_a_failed_write_keeps_the_old_file_and_no_partial(tmp_path):
    target = tmp_path / "metrics.json"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError):
        with replacing(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and not partial_path(target).exists()
    write_text_atomic(target, "new")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == \
        ["metrics.json"]
