"""Converted Keras models give the PyTorch (transformers) outputs, for every source layout."""

import json

import numpy as np
import pytest
import torch

from tests.convert import convert_helpers as helpers
from checkpoints_convert import convert
from videomae_tf.masking import batch_masks, running_cell_maps
from videomae_tf.models.naming import official_weights

TOL = 1e-4
GRID = (2, 2, 2)  # 4 frames / tubelet 2, 32 px / patch 16


def logits(model, x):
    with torch.no_grad():
        return model(helpers.torch_clip(x)).logits.numpy()


def write_layout(model, layout, folder):
    """Save a transformers model in one of the source layouts; returns the path."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if layout == "transformers":
        model.save_pretrained(folder / "hf")
        return folder / "hf"
    if layout == "transformers-bin":
        (folder / "hfbin").mkdir()
        model.config.to_json_file(folder / "hfbin" / "config.json")
        torch.save(sd, folder / "hfbin" / "pytorch_model.bin")
        return folder / "hfbin"
    official = helpers.official_state_dict(model)
    path = folder / f"{layout}.pth"
    if layout == "official-module":
        torch.save({"module": official, "epoch": 10}, path)
    elif layout == "official-model":
        torch.save({"model": official}, path)
    elif layout == "official-orig-mod":
        torch.save({"model": {"_orig_mod." + k: v for k, v in official.items()}, "epoch": 1}, path)
    elif layout == "official-top":
        torch.save(official, path)
    elif layout == "hub-wrapper-safetensors":  # a custom-code Hub model holding it as .model
        from safetensors.torch import save_file

        path = path.with_suffix(".safetensors")
        save_file({"model." + k: v.contiguous() for k, v in official.items()}, path)
    elif layout == "mmaction2":
        torch.save({"state_dict": helpers.mmaction2_state_dict(model), "meta": {"epoch": 1}}, path)
    return path


CLS_LAYOUTS = ["transformers", "transformers-bin", "official-module", "official-model",
               "official-orig-mod", "official-top", "hub-wrapper-safetensors", "mmaction2"]


@pytest.mark.parametrize("layout", CLS_LAYOUTS)
def test_classifier_parity(layout, hf_cls, x, tmp_path):
    source = write_layout(hf_cls, layout, tmp_path)
    hf = layout.startswith("transformers")
    result = convert(source, tmp_path / "out.weights.h5", progress=False, log=None,
                     overrides=None if hf else helpers.TINY_OVERRIDES,
                     img_size=None if hf else 32, num_frames=None if hf else 4)
    got = np.asarray(result.model(x))
    np.testing.assert_allclose(got, logits(hf_cls, x), atol=TOL, rtol=0)
    assert result.task == "finetune" and result.config["num_classes"] == 5
    assert not result.fresh
    sidecar = json.loads((tmp_path / "out.json").read_text())
    assert sidecar["config"]["task"] == "finetune" and len(sidecar["source_sha256"]) == 64


def test_classifier_without_mean_pooling(hf_cls_token0, x, tmp_path):
    """Token 0 + norm (transformers' videomae.layernorm, eps 1e-12) instead of fc_norm."""
    for layout in ("transformers", "official-module"):
        source = write_layout(hf_cls_token0, layout, tmp_path)
        hf = layout == "transformers"
        overrides = None if hf else dict(helpers.TINY_OVERRIDES, fc_norm_eps=1e-12)
        result = convert(source, None, progress=False, log=None, overrides=overrides,
                         img_size=None if hf else 32, num_frames=None if hf else 4)
        assert result.config["use_mean_pooling"] is False
        np.testing.assert_allclose(np.asarray(result.model(x)), logits(hf_cls_token0, x),
                                   atol=TOL, rtol=0)


@pytest.mark.parametrize("layout", ["transformers", "official-model", "official-orig-mod"])
@pytest.mark.parametrize("norm", [False, True])
def test_pretraining_parity(layout, norm, hf_pt, hf_pt_norm, x, tmp_path):
    model = hf_pt_norm if norm else hf_pt
    source = write_layout(model, layout, tmp_path)
    hf = layout == "transformers"
    result = convert(source, tmp_path / "pt.weights.h5", progress=False, log=None,
                     overrides=None if hf else helpers.TINY_PT_OVERRIDES,
                     img_size=None if hf else 32, num_frames=None if hf else 4)
    assert result.task == "pretrain"
    assert result.config["encoder_final_norm"] is norm
    mask = batch_masks("tube", GRID, 0.5, 2, seed=0)
    with torch.no_grad():
        ref = model(helpers.torch_clip(x), bool_masked_pos=torch.from_numpy(mask)).logits.numpy()
    got = np.asarray(result.model.reconstruct(x, mask))
    assert got.shape == ref.shape == (2, 4, 1536)
    np.testing.assert_allclose(got, ref, atol=TOL, rtol=0)


def v2_reference(model, x, encoder_mask, decoder_mask):
    """SPEC 5 written out in torch with the transformers modules as building blocks.

    Decoder input = [visible tokens + their positions, mask token + positions of the
    tokens to reconstruct (= NOT decoder-masked)], each group in ascending token order;
    norm + head on the last N_reconstruct outputs only.
    """
    enc = torch.from_numpy(encoder_mask)
    rec = torch.from_numpy(~decoder_mask)
    batch = x.shape[0]
    with torch.no_grad():
        hidden = model.videomae(helpers.torch_clip(x), bool_masked_pos=enc).last_hidden_state
        hidden = model.encoder_to_decoder(hidden)
        dim = hidden.shape[-1]
        table = model.position_embeddings.expand(batch, -1, -1)
        visible = hidden + table[~enc].reshape(batch, -1, dim)
        queries = model.mask_token + table[rec].reshape(batch, -1, dim)
        tokens = torch.cat([visible, queries], dim=1)
        for layer in model.decoder.decoder_layers:
            tokens = layer(tokens)
        tokens = tokens[:, -queries.shape[1]:]
        return model.decoder.head(model.decoder.norm(tokens)).numpy()


def test_v2_decoder_masked_forward(hf_pt, x, tmp_path):
    source = write_layout(hf_pt, "official-orig-mod", tmp_path)
    result = convert(source, None, progress=False, log=None, overrides=helpers.TINY_PT_OVERRIDES,
                     img_size=32, num_frames=4)
    encoder_mask = batch_masks("tube", GRID, 0.5, 2, seed=4)
    decoder_mask = running_cell_maps(GRID, 0.5)[[0, 3]]
    both = ~decoder_mask & ~encoder_mask
    assert both.any(), "some encoder-visible tokens must be reconstructed too (they appear twice)"
    got = np.asarray(result.model.reconstruct(x, encoder_mask, decoder_mask))
    ref = v2_reference(hf_pt, x, encoder_mask, decoder_mask)
    assert got.shape == ref.shape == (2, 4, 1536)
    np.testing.assert_allclose(got, ref, atol=TOL, rtol=0)
    # Without a decoder mask V2 is V1: every encoder-masked token is reconstructed.
    np.testing.assert_allclose(np.asarray(result.model.reconstruct(x, encoder_mask)),
                               v2_reference(hf_pt, x, encoder_mask, ~encoder_mask), atol=TOL, rtol=0)


def test_pretrained_into_classifier(hf_pt_norm, tmp_path):
    """Official fine-tune rule: encoder copied, encoder norm and decoder unused, fresh
    fc_norm + head, positions computed for another frame count."""
    source = write_layout(hf_pt_norm, "official-model", tmp_path)
    result = convert(source, tmp_path / "ft.weights.h5", task="finetune", num_classes=7,
                     num_frames=8, img_size=32, progress=False, log=None,
                     overrides=dict(num_heads=2, layer_norm_eps=1e-12))
    model = result.model
    assert result.task == "finetune" and model.grid == (4, 2, 2)
    assert set(result.fresh) == {"fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"}
    assert "encoder.norm.weight" in result.ignored and "mask_token" in result.ignored
    assert any(k.startswith("decoder.blocks.") for k in result.ignored)
    official = helpers.official_state_dict(hf_pt_norm)
    weights = official_weights(model)
    for key in ("blocks.1.attn.qkv.weight", "blocks.0.mlp.fc2.bias", "patch_embed.proj.weight"):
        src = official["encoder." + key].numpy()
        from videomae_tf.models.naming import to_keras_layout

        np.testing.assert_array_equal(np.asarray(weights[key]), to_keras_layout(key, src))
    assert np.all(np.asarray(weights["fc_norm.weight"]) == 1.0)
    assert np.asarray(model(np.zeros((1, 8, 32, 32, 3), "float32"))).shape == (1, 7)


def test_encoder_only_file(hf_pt, tmp_path):
    """The released V1 ViT-H pretrain file holds the encoder only: auto task is finetune."""
    official = helpers.official_state_dict(hf_pt)
    encoder = {k: v for k, v in official.items() if k.startswith("encoder.")}
    path = tmp_path / "encoder_only.pth"
    torch.save({"model": encoder}, path)
    overrides = dict(num_heads=2)
    result = convert(path, None, progress=False, log=None, overrides=overrides, img_size=32, num_frames=4)
    assert result.task == "finetune" and result.config["num_classes"] == 400
    assert {"head.weight", "fc_norm.weight"} <= set(result.fresh)
    from checkpoints_convert import ConversionError

    with pytest.raises(ConversionError, match="encoder only"):
        convert(path, None, task="pretrain", progress=False, log=None, overrides=overrides)


def test_mmaction2_pos_embed_for_other_frames_is_ignored(hf_cls, x, tmp_path):
    """A stored table for 16 frames, converted for 4: listed as ignored, outputs exact."""
    sd = helpers.mmaction2_state_dict(hf_cls)
    from videomae_tf.models.layers import sinusoid_table

    sd["backbone.pos_embed"] = torch.from_numpy(sinusoid_table(32, 64))[None]
    path = tmp_path / "mm.pth"
    torch.save({"state_dict": sd}, path)
    result = convert(path, None, num_frames=4, img_size=32, progress=False, log=None,
                     overrides=helpers.TINY_OVERRIDES)
    assert "sinusoid" in result.ignored["backbone.pos_embed"]
    np.testing.assert_allclose(np.asarray(result.model(x)), logits(hf_cls, x), atol=TOL, rtol=0)
    # Without --num-frames the stored table tells the token count: 32 tokens = 16 frames.
    result = convert(path, None, img_size=32, progress=False, log=None, overrides=helpers.TINY_OVERRIDES)
    assert result.config["num_frames"] == 16


def test_new_class_count_drops_the_head(official_ft_file):
    result = convert(official_ft_file, None, num_classes=3, progress=False, log=None,
                     overrides=helpers.TINY_OVERRIDES, img_size=32, num_frames=4)
    assert set(result.fresh) == {"head.weight", "head.bias"}
    assert "head.weight" in result.ignored and "fc_norm.weight" in result.used
