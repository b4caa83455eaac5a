"""Layer decay, weight-decay groups and the AdamW update against hand computation and torch."""

import numpy as np
import pytest

from tests.training.training_helpers import tiny_classifier

from videomae_tf.training import (
    LayerDecayAdamW, layer_id, make_optimizer, parameter_groups, scaled_lr, uses_weight_decay,
)


def test_layer_ids_follow_the_official_assigner():
    depth = 12
    assert layer_id("patch_embed.proj.weight", depth) == 0
    assert layer_id("pos_embed", depth) == 0
    assert layer_id("cls_token", depth) == 0
    assert layer_id("blocks.0.attn.qkv.weight", depth) == 1
    assert layer_id("blocks.11.mlp.fc2.bias", depth) == 12
    assert layer_id("fc_norm.weight", depth) == 13
    assert layer_id("head.bias", depth) == 13


def test_weight_decay_skips_1d_bias_and_skip_list():
    assert uses_weight_decay("blocks.0.attn.qkv.weight", (32, 96))
    assert not uses_weight_decay("blocks.0.attn.q_bias", (32,))
    assert not uses_weight_decay("blocks.0.norm1.weight", (32,))
    assert not uses_weight_decay("head.bias", (4,))
    assert not uses_weight_decay("pos_embed", (1, 8, 32))
    assert uses_weight_decay("patch_embed.proj.weight", (2, 16, 16, 3, 32))


def test_parameter_groups_of_a_tiny_classifier():
    model = tiny_classifier()
    rows = {r["key"]: r for r in parameter_groups(model, layer_decay=0.5)}
    # num_layers = depth + 2 = 4; scale = 0.5 ** (3 - layer id)
    assert rows["patch_embed.proj.weight"]["lr_scale"] == 0.125
    assert rows["blocks.0.attn.qkv.weight"]["lr_scale"] == 0.25
    assert rows["blocks.1.mlp.fc1.bias"]["lr_scale"] == 0.5
    assert rows["fc_norm.weight"]["lr_scale"] == 1.0
    assert rows["head.weight"]["lr_scale"] == 1.0
    decayed = sorted(k for k, r in rows.items() if r["weight_decay"])
    assert decayed == sorted(
        ["patch_embed.proj.weight", "head.weight"]
        + [f"blocks.{i}.{n}.weight" for i in range(2)
           for n in ("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2")]
    )
    assert all(r["lr_scale"] == 1.0 for r in parameter_groups(model, layer_decay=None))


def test_scaled_lr():
    assert scaled_lr(5e-4, 512) == pytest.approx(1e-3)


def _hand_adamw(params, grads, scales, decays, lr, wd, b1, b2, eps, steps):
    """PyTorch AdamW written out: p *= 1 - lr*wd; p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)."""
    params = [p.astype(np.float64) for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(1, steps + 1):
        for i, (p, g) in enumerate(zip(params, grads)):
            rate = lr * scales[i]
            if decays[i]:
                p *= 1 - rate * wd
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            denom = np.sqrt(v[i]) / np.sqrt(1 - b2**t) + eps
            p -= rate / (1 - b1**t) * m[i] / denom
    return params


def _known_grads(model, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.1, size=v.shape).astype("float32") for v in model.trainable_variables]


def test_update_per_layer_group_equals_hand_computed_adamw():
    model = tiny_classifier()
    groups = parameter_groups(model, layer_decay=0.5)
    lr, wd = 1e-2, 0.05
    optimizer = make_optimizer(model, lr=lr, total_steps=1000, warmup_steps=0, min_lr=lr,
                               weight_decay=wd, betas=(0.9, 0.999), layer_decay=0.5)
    start = [v.numpy().copy() for v in model.trainable_variables]
    grads = _known_grads(model)
    for _ in range(3):
        optimizer.apply(grads, model.trainable_variables)
    expected = _hand_adamw(start, grads, [g["lr_scale"] for g in groups],
                           [g["weight_decay"] for g in groups], lr, wd, 0.9, 0.999, 1e-8, 3)
    # float32 vs float64: 1 - 0.999**t loses ~1e-5 relative, i.e. ~1e-7 of a 1e-2 step
    for variable, want, group in zip(model.trainable_variables, expected, groups):
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-5, atol=3e-7, err_msg=group["key"])
    # the groups really moved by different amounts: head (scale 1) vs patch_embed (1/8)
    moved = {g["key"]: np.abs(v.numpy() - s).mean()
             for g, v, s in zip(groups, model.trainable_variables, start)}
    assert moved["head.weight"] > 4 * moved["patch_embed.proj.weight"]


def test_matches_torch_adamw_with_official_param_groups():
    torch = pytest.importorskip("torch")
    model = tiny_classifier()
    groups = parameter_groups(model, layer_decay=0.75)
    lr, wd = 3e-3, 0.05
    optimizer = make_optimizer(model, lr=lr, total_steps=1000, warmup_steps=0, min_lr=lr,
                               weight_decay=wd, layer_decay=0.75)
    params = [torch.nn.Parameter(torch.tensor(v.numpy())) for v in model.trainable_variables]
    torch_opt = torch.optim.AdamW(
        [{"params": [p], "lr": lr * g["lr_scale"], "weight_decay": wd if g["weight_decay"] else 0.0}
         for p, g in zip(params, groups)], betas=(0.9, 0.999), eps=1e-8)
    for step in range(4):
        grads = _known_grads(model, seed=step)
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        torch_opt.step()
        optimizer.apply(grads, model.trainable_variables)
    for variable, p, group in zip(model.trainable_variables, params, groups):
        np.testing.assert_allclose(variable.numpy(), p.detach().numpy(), rtol=1e-5, atol=1e-7,
                                   err_msg=group["key"])


def test_global_norm_clipping():
    model = tiny_classifier()
    clipped = make_optimizer(model, lr=1e-2, total_steps=10, min_lr=1e-2, clip_grad=0.5,
                             layer_decay=None, weight_decay=0.0)
    start = [v.numpy().copy() for v in model.trainable_variables]
    grads = _known_grads(model)
    norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads))
    assert norm > 0.5
    clipped.apply(grads, model.trainable_variables)
    after_clip = [v.numpy().copy() for v in model.trainable_variables]
    expected = _hand_adamw(start, [g * (0.5 / norm) for g in grads], [1.0] * len(grads),
                           [False] * len(grads), 1e-2, 0.0, 0.9, 0.999, 1e-8, 1)
    for got, want in zip(after_clip, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_unknown_lr_scale_names_are_rejected():
    model = tiny_classifier()
    with pytest.raises(ValueError, match="not given"):
        LayerDecayAdamW(lr_scales={"nope/kernel": 0.5}).build(model.trainable_variables)
