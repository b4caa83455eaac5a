"""Bad inputs stop with a clear ConversionError and leave no output file."""

import builtins
import pickle
import sys

import numpy as np
import pytest
import torch

from tests.convert import convert_helpers as helpers
from checkpoints_convert import ConversionError, convert
from checkpoints_convert.__main__ import main
from checkpoints_convert.reader import read_source


def attempt(source, out_dir, **kwargs):
    kwargs.setdefault("overrides", helpers.TINY_OVERRIDES)
    with pytest.raises(ConversionError) as info:
        convert(source, out_dir / "out.weights.h5", keras_path=out_dir / "out.keras",
                img_size=32, num_frames=4, progress=False, log=None, **kwargs)
    assert not out_dir.exists() or list(out_dir.iterdir()) == [], "no output may be written"
    return str(info.value)


def rewrite(path, edit):
    sd = torch.load(path, weights_only=True)["module"]
    edit(sd)
    torch.save({"module": sd}, path)
    return path


def test_corrupt_file(official_ft_file, tmp_path):
    data = official_ft_file.read_bytes()
    official_ft_file.write_bytes(data[: len(data) // 2])
    message = attempt(official_ft_file, tmp_path / "out")
    assert "corrupt or truncated" in message and str(official_ft_file) in message


def test_corrupt_inside_the_zip(official_ft_file, tmp_path):
    data = bytearray(official_ft_file.read_bytes())
    start = len(data) // 3
    data[start: start + 4096] = b"\0" * 4096  # a damaged record, zip directory intact
    official_ft_file.write_bytes(bytes(data))
    message = attempt(official_ft_file, tmp_path / "out")
    assert "corrupt" in message and str(official_ft_file) in message


@pytest.mark.parametrize("content,expected", [
    (b"just some text, not weights\n", "not a checkpoint this converter reads"),
    (b"\x89HDF\r\n\x1a\n" + b"\0" * 64, "HDF5"),
    (b"", "empty"),
])
def test_wrong_file_type(content, expected, tmp_path):
    path = tmp_path / "thing.pth"
    path.write_bytes(content)
    assert expected in attempt(path, tmp_path / "out")


def test_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], path)
    assert "not a dict of tensors" in attempt(path, tmp_path / "out")
    torch.save({"epoch": 3, "optimizer": {"lr": 0.1}}, path)
    assert "holds no tensors" in attempt(path, tmp_path / "out")


def test_folder_without_config(tmp_path):
    (tmp_path / "folder").mkdir()
    assert "config.json" in attempt(tmp_path / "folder", tmp_path / "out")


def test_missing_key(official_ft_file, tmp_path):
    rewrite(official_ft_file, lambda sd: sd.pop("blocks.1.mlp.fc1.weight"))
    message = attempt(official_ft_file, tmp_path / "out")
    assert "missing" in message and "blocks.1.mlp.fc1.weight  expected (128, 64)" in message


def test_extra_key(official_ft_file, tmp_path):
    rewrite(official_ft_file, lambda sd: sd.update({"blocks.0.attn.relative_bias": torch.zeros(3, 3)}))
    message = attempt(official_ft_file, tmp_path / "out")
    assert "unexpected" in message and "blocks.0.attn.relative_bias  (3, 3)" in message


def test_extra_key_can_be_ignored_deliberately(official_ft_file):
    rewrite(official_ft_file, lambda sd: sd.update({"blocks.0.attn.relative_bias": torch.zeros(3, 3)}))
    result = convert(official_ft_file, None, ignore=[r"relative_bias$"], img_size=32, num_frames=4,
                     progress=False, log=None, overrides=helpers.TINY_OVERRIDES)
    assert "--ignore" in result.ignored["blocks.0.attn.relative_bias"]


def test_shape_mismatch(official_ft_file, tmp_path):
    rewrite(official_ft_file, lambda sd: sd.update({"blocks.1.mlp.fc2.bias": torch.zeros(65)}))
    message = attempt(official_ft_file, tmp_path / "out")
    assert "shape mismatch" in message
    assert "blocks.1.mlp.fc2.bias: checkpoint (65,)" in message and "expects (64,)" in message


def test_wrong_arch(official_ft_file, tmp_path):
    message = attempt(official_ft_file, tmp_path / "out", arch="vit_b")
    assert "--arch vit_b is width 768" in message and "width 64" in message


def test_unknown_heads(official_ft_file, tmp_path):
    message = attempt(official_ft_file, tmp_path / "out", overrides={})
    assert "--set num_heads=N" in message


def test_finetuned_to_pretrain(official_ft_file, tmp_path):
    assert "fine-tuned classifier" in attempt(official_ft_file, tmp_path / "out", task="pretrain")


class Evil:
    """Unpickling this would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_malicious_pickle_runs_nothing(how, hf_cls, tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"model": helpers.official_state_dict(hf_cls), "extra": Evil(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(Evil(marker), protocol=2))
    # the payload really works when unpickled naively (this is what is prevented):
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(Evil(probe)))
    assert probe.exists()
    message = attempt(path, tmp_path / "out")
    assert "refusing to load" in message and "exec" in message
    assert not marker.exists()


def test_cli_error_exit_code(official_ft_file, tmp_path, capsys):
    rewrite(official_ft_file, lambda sd: sd.pop("head.bias"))
    out = tmp_path / "cli_out"
    code = main([str(official_ft_file), "--output", str(out / "x.weights.h5"), "--img-size", "32",
                 "--num-frames", "4", "--set", "num_heads=2", "--no-progress"])
    assert code == 2  # bad input; 1 is kept for failures while writing
    err = capsys.readouterr().err
    assert "head.bias" in err and "No output was written" in err
    assert not out.exists()


def test_bad_output_name(official_ft_file, tmp_path):
    with pytest.raises(ConversionError, match=r"\.weights\.h5"):
        convert(official_ft_file, tmp_path / "out.h5", log=None)


def test_pth_without_torch_says_how_to_install(official_ft_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    with pytest.raises(ConversionError, match=r"videomae_tf\[convert\]"):
        read_source(official_ft_file)


def test_safetensors_need_no_torch(hf_cls_folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    source = read_source(hf_cls_folder)
    key = "classifier.weight"
    assert source.tensors[key].shape == (5, 64)
    assert source.tensors[key].load().dtype == np.float32


def test_safetensors_bf16_and_f16(tmp_path):
    from safetensors.torch import save_file

    tensors = {"a": torch.randn(3, 4).to(torch.bfloat16), "b": torch.randn(5).half(),
               "c": torch.randn(2, 2)}
    save_file(tensors, str(tmp_path / "t.safetensors"))
    source = read_source(tmp_path / "t.safetensors")
    for key, value in tensors.items():
        np.testing.assert_array_equal(source.tensors[key].load(), value.float().numpy())


def test_a_head_narrower_than_the_encoder_is_an_error(official_ft_file, tmp_path):
    """It used to convert with exit 0 and a random head ("does not fit the classes asked for")."""
    rewrite(official_ft_file, lambda sd: sd.update({"head.weight": sd["head.weight"][:, :-2]}))
    message = attempt(official_ft_file, tmp_path / "out")
    assert "head.weight is (5, 62)" in message and "not the encoder's width 64" in message


def test_command_line_mistakes_are_one_line_with_exit_2(official_ft_file, tmp_path, capsys,
                                                        monkeypatch):
    args = [str(official_ft_file), "--output", str(tmp_path / "o.weights.h5"), "--img-size",
            "32", "--num-frames", "4", "--set", "num_heads=2", "--no-progress"]
    with pytest.raises(SystemExit) as exit_info:
        main(args + ["--ignore", "["])  # not a regular expression
    assert exit_info.value.code == 2
    assert "--ignore: not a regular expression: '['" in capsys.readouterr().err

    def unreadable(*_, **__):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("checkpoints_convert.converter.read_source", unreadable)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"videomae-convert: error: cannot read {official_ft_file}: Permission denied"
    assert not list(tmp_path.glob("o.*")) and not list(tmp_path.glob(".partial*"))


def test_a_mis_shaped_patch_embedding_is_blamed_not_the_good_tensors(official_ft_file, tmp_path):
    """The width was read from the patch embedding alone, so every good tensor mismatched."""
    rewrite(official_ft_file, lambda sd: sd.update(
        {"patch_embed.proj.weight": sd["patch_embed.proj.weight"][:-1]}))
    message = attempt(official_ft_file, tmp_path / "out")
    assert "patch_embed.proj.weight has shape (63, 3, 2, 16, 16)" in message
    assert "blocks are 64 wide" in message and "head.weight" not in message


@pytest.mark.parametrize("edit, expected", [
    (lambda sd: sd.__setitem__("blocks.0.mlp.fc1.bias", sd["blocks.0.mlp.fc1.bias"].to(torch.int32)),
     "blocks.0.mlp.fc1.bias is stored as int32, but "),
    (lambda sd: sd["blocks.0.attn.proj.weight"].__setitem__((0, 0), float("nan")),
     "holds NaN or Inf values: not trained weights"),
    (lambda sd: sd["head.bias"].__setitem__(0, float("inf")), "holds NaN or Inf values"),
])
def test_tensors_that_cannot_be_trained_weights_are_refused(official_ft_file, tmp_path, edit,
                                                            expected):
    rewrite(official_ft_file, edit)
    message = attempt(official_ft_file, tmp_path / "out")
    assert expected in message.splitlines()[0], message


def test_a_set_value_of_the_wrong_type_is_one_line(official_ft_file, tmp_path, capsys):
    assert main([str(official_ft_file), "--output", str(tmp_path / "out.weights.h5"),
                 "--set", "num_heads=abc"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["videomae-convert: error: --set: num_heads='abc'; expected an integer >= 1"]
    assert main([str(official_ft_file), "--output", str(tmp_path / "out.weights.h5"),
                 "--set", "qkv_bias=maybe"]) == 2
    assert "qkv_bias='maybe'; expected a boolean" in capsys.readouterr().err
    assert not (tmp_path / "out.weights.h5").exists()
