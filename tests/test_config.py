"""One owner for configs: every recipe through ``get_config``, overrides, and no setting
given in two places that silently loses."""

import json

import pytest

from videomae_tf.config import (RUN_KEY_OF_MODEL_OPTION, apply_settings, get_config,
                                parse_override, recipe_names, resolve)
from videomae_tf.errors import InputError


@pytest.mark.parametrize("task", ["finetune", "pretrain"])
def test_every_recipe_resolves(task):
    for name in recipe_names(task):
        config = get_config(task, name)
        assert resolve(config, task) == config  # a recipe is complete and passes its checks
        config["epochs"] = -1
        assert get_config(task, name)["epochs"] >= 1  # a fresh copy each time


def test_unknown_task_and_recipe_name_the_known_ones():
    with pytest.raises(KeyError, match="known: finetune, pretrain"):
        get_config("train", "k400")
    with pytest.raises(KeyError, match="k400_vit_s"):
        get_config("finetune", "k400_vit_x")


def test_parse_override_reads_json_values_and_dotted_keys():
    assert parse_override("data.sampling_rate=2") == (["data", "sampling_rate"], 2)
    assert parse_override("init=runs/a b.h5") == (["init"], "runs/a b.h5")
    assert parse_override("scale=[0.5, 1]") == (["scale"], [0.5, 1])
    assert parse_override("clip_grad=null") == (["clip_grad"], None)
    for bad in ("epochs", "=3", "data.=3"):
        with pytest.raises(InputError, match="expects key=value"):
            parse_override(bad)


def test_a_key_given_twice_must_agree():
    config = {"epochs": 30, "data": {"root": None}}
    out = apply_settings(config, {"epochs": 3, "data.root": None}, ["epochs=3", "data.root=/d"])
    assert out == {"epochs": 3, "data": {"root": "/d"}} and config["epochs"] == 30
    with pytest.raises(InputError, match=r"epochs is given twice.*3 \(its flag\) and 5 \(--set\)"):
        apply_settings(config, {"epochs": 3}, ["epochs=5"])
    with pytest.raises(InputError, match="lr is given twice"):
        apply_settings(config, {}, ["lr=0.1", "lr=0.2"])


OWNED = [(task, option) for task, owned in RUN_KEY_OF_MODEL_OPTION.items() for option in owned]


@pytest.mark.parametrize("task, option", OWNED)
def test_a_model_option_that_a_run_key_owns_must_agree_with_it(task, option):
    config = get_config(task, "synthetic")
    run_key = RUN_KEY_OF_MODEL_OPTION[task][option]
    config["model"][option] = config[run_key]
    resolve(config, task)  # the same value twice is fine
    other = {bool: lambda v: not v, int: lambda v: v * 2,
             float: lambda v: v + 0.1}[type(config[run_key])](config[run_key])
    config["model"][option] = other
    with pytest.raises(InputError, match=rf"model\.{option}=.* disagrees with {run_key}="):
        resolve(config, task)


# Two values for every model option, valid on the synthetic recipes' tiny models.
CHOICES = dict(
    num_classes=(3, 5), use_mean_pooling=(True, False), head_drop_rate=(0.0, 0.1),
    init_scale=(1.0, 0.5), fc_norm_eps=(1e-5, 1e-4), img_size=(32, 16), patch_size=(4, 8),
    num_frames=(8, 4), tubelet_size=(4, 2), in_chans=(3, 1), embed_dim=(64, 32), depth=(2, 1),
    num_heads=(2, 1), mlp_ratio=(4.0, 2.0), qkv_bias=(True, False), head_dim=(16, 8),
    drop_path_rate=(0.0, 0.1), init_values=(0.0, 0.1), layer_norm_eps=(1e-6, 1e-5),
    cosine_attention=(False, True), use_cls_token=(False, True),
    learned_pos_embed=(False, True), decoder_embed_dim=(32, 16), decoder_depth=(1, 2),
    decoder_num_heads=(2, 1), decoder_mlp_ratio=(2.0, 3.0), decoder_eps=(1e-5, 1e-4),
    encoder_final_norm=(True, False), normalize_target=(False, True),
)


def _pair(value):
    return list(value) if isinstance(value, (list, tuple)) else [value, value]


def _built(task, config):
    from videomae_tf.training.finetune import build_classifier
    from videomae_tf.training.pretrain import build_pretrainer

    cfg = resolve(config, task)
    return (build_classifier if task == "finetune" else build_pretrainer)(cfg).get_config()


@pytest.mark.parametrize("task", ["finetune", "pretrain"])
def test_no_model_option_is_silently_overwritten(task):
    """Each option the model takes, set under ``model`` to another value than the recipe's
    model has, is either what the built model gets or an InputError -- never dropped."""
    from videomae_tf.models.classifier import CLASSIFIER_DEFAULTS
    from videomae_tf.models.pretrainer import PRETRAINER_DEFAULTS

    options = CLASSIFIER_DEFAULTS if task == "finetune" else PRETRAINER_DEFAULTS
    assert set(options) <= set(CHOICES), "give the new model option two values in CHOICES"
    recipe = get_config(task, "synthetic")
    built = _built(task, recipe)
    for option in options:
        value = next(v for v in CHOICES[option] if _pair(v) != _pair(built[option]))
        config = json.loads(json.dumps(recipe))
        config["model"][option] = value
        try:
            got = _built(task, config)[option]
        except ValueError as e:  # refused loudly: fine
            assert option in str(e), (option, str(e))
            continue
        assert _pair(got) == _pair(value), f"model.{option}={value!r} became {got!r}"


def test_pretraining_recipes_keep_their_architectures_decoder():
    """V1 ViT-L/H decoders are 12 blocks deep, the others 4: a default decoder_depth under
    ``model`` would override that for every architecture."""
    for name in recipe_names("pretrain"):
        model = get_config("pretrain", name)["model"]
        if model.get("arch"):
            assert set(model) == {"arch", "version"}, (name, model)
