"""AdamW with layer-wise learning-rate decay, as the official VideoMAE fine-tuning uses.

Official rules (``optim_factory.py``), applied by official key (``blocks.3.attn.qkv.weight``):

* layer id: 0 for ``patch_embed.*``, ``cls_token``, ``pos_embed``, ``mask_token``;
  i + 1 for ``blocks.i.*``; depth + 1 for everything else (``fc_norm``, ``head``).
  With num_layers = depth + 2 the rate of a variable is lr * decay ** (num_layers - 1 - id).
* no weight decay for 1-D variables (biases, norms, q/v biases), names ending in
  ``.bias`` and the skip list (``pos_embed``, ``cls_token``, ``mask_token``).

``LayerDecayAdamW`` is PyTorch's AdamW (decoupled decay ``p *= 1 - lr * wd``, eps added
to the bias-corrected sqrt(v)) with a fixed lr multiplier and decay switch per variable.
"""

import keras
from keras import ops

from videomae_tf.errors import InputError
from videomae_tf.models.naming import official_key
from videomae_tf.training.schedules import WarmupCosine

NO_WEIGHT_DECAY = ("pos_embed", "cls_token", "mask_token")


def scaled_lr(lr, total_batch_size):
    """The linear scaling rule of every official script: lr * total batch / 256."""
    return lr * total_batch_size / 256


def layer_id(key, depth):
    """The official ``get_num_layer_for_vit`` for an official key."""
    if key in NO_WEIGHT_DECAY or key.startswith("patch_embed"):
        return 0
    if key.startswith("blocks."):
        return int(key.split(".")[1]) + 1
    return depth + 1


def uses_weight_decay(key, shape, skip=NO_WEIGHT_DECAY):
    """False for 1-D variables, ``*.bias`` and the skip list (official ``get_parameter_groups``)."""
    return not (len(shape) == 1 or key.endswith(".bias") or key in skip)


def parameter_groups(model, layer_decay=None, skip=NO_WEIGHT_DECAY):
    """One row per trainable variable: path, official key, layer id, lr scale, decay flag.

    ``layer_decay`` None or >= 1 gives every variable scale 1 (the official code only
    builds the assigner for decay < 1). Layer ids need a model with top-level ``blocks.i``
    (the classifier); for other models pass ``layer_decay=None``.
    """
    decayed = layer_decay is not None and layer_decay < 1.0
    depth = len(getattr(model, "blocks", [])) if decayed else 0
    if decayed and depth == 0:
        raise InputError(f"layer decay needs a model with blocks; {model.name} has none")
    rows = []
    for variable in model.trainable_variables:
        key = official_key(variable.path)
        lid = layer_id(key, depth) if decayed else 0
        scale = layer_decay ** (depth + 1 - lid) if decayed else 1.0
        rows.append(dict(path=variable.path, key=key, layer_id=lid, lr_scale=scale,
                         weight_decay=uses_weight_decay(key, variable.shape, skip)))
    return rows


@keras.saving.register_keras_serializable(package="videomae_tf")
class LayerDecayAdamW(keras.optimizers.Optimizer):
    """AdamW with a per-variable lr scale and weight-decay switch (PyTorch AdamW math).

    Args:
        lr_scales: {variable path: lr multiplier}; missing paths get 1.
        decay_paths: paths of the variables that get weight decay (None: all).
        reduce_gradients: False (default) when the caller has already summed the gradients
            over replicas, as ``Trainer`` does so that clipping sees the global norm (Keras
            would clip each replica's part and sum afterwards); True for ``model.fit``.
        Other keyword arguments (``global_clipnorm``...) go to ``keras.optimizers.Optimizer``.
    """

    def __init__(self, learning_rate=1e-3, weight_decay=0.05, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, lr_scales=None, decay_paths=None, reduce_gradients=False,
                 name="layer_decay_adamw", **kwargs):
        kwargs.pop("weight_decay", None)
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.weight_decay_rate = float(weight_decay)  # not `weight_decay`: Keras would apply it
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.lr_scales = dict(lr_scales or {})
        self.decay_paths = None if decay_paths is None else sorted(decay_paths)
        self.reduce_gradients = bool(reduce_gradients)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        paths = {v.path for v in var_list}
        unknown = sorted(set(self.lr_scales) - paths)
        if unknown:
            raise InputError(f"lr_scales names variables the optimizer was not given: {unknown[:5]}")
        decay = None if self.decay_paths is None else set(self.decay_paths)
        self._scale = [float(self.lr_scales.get(v.path, 1.0)) for v in var_list]
        self._decay = [decay is None or v.path in decay for v in var_list]
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype) * self._scale[index]
        g = ops.cast(gradient, dtype)
        t = ops.cast(self.iterations + 1, dtype)
        m, v = self._momentums[index], self._velocities[index]
        m_new = self.beta_1 * m + (1 - self.beta_1) * g
        v_new = self.beta_2 * v + (1 - self.beta_2) * g * g
        bias1 = 1 - ops.power(ops.cast(self.beta_1, dtype), t)
        bias2 = 1 - ops.power(ops.cast(self.beta_2, dtype), t)
        step = (lr / bias1) * m_new / (ops.sqrt(v_new) / ops.sqrt(bias2) + self.epsilon)
        # one write per variable (decay first, then the Adam step, as torch's AdamW), so
        # that a compiled update reads and writes each tensor once
        decayed = variable
        if self._decay[index] and self.weight_decay_rate:
            decayed = variable * (1 - lr * self.weight_decay_rate)
        self.assign(m, m_new)
        self.assign(v, v_new)
        self.assign(variable, decayed - step)

    def _all_reduce_sum_gradients(self, grads_and_vars):
        # TensorFlow backend hook: see `reduce_gradients`.
        if self.reduce_gradients:
            return super()._all_reduce_sum_gradients(grads_and_vars)
        return grads_and_vars

    def get_config(self):
        config = super().get_config()
        config.update(weight_decay=self.weight_decay_rate, beta_1=self.beta_1,
                      beta_2=self.beta_2, epsilon=self.epsilon, lr_scales=self.lr_scales,
                      decay_paths=self.decay_paths, reduce_gradients=self.reduce_gradients)
        return config


def make_optimizer(model, *, lr, total_steps, warmup_steps=0, min_lr=1e-6, warmup_lr=0.0,
                   weight_decay=0.05, betas=(0.9, 0.999), eps=1e-8, layer_decay=0.75,
                   clip_grad=None, loss_scale=False, skip=NO_WEIGHT_DECAY,
                   backbone_lr_scale=1.0):
    """The official fine-tuning optimizer for ``model``: layer-decayed AdamW on a warmup-cosine
    schedule (rates already batch-scaled, see ``scaled_lr``), optional global-norm clipping,
    optionally wrapped in ``keras.optimizers.LossScaleOptimizer`` (float16 training).
    ``backbone_lr_scale`` multiplies the rate of ``model.backbone``'s variables (a model
    with heads on a backbone, e.g. the MA-52 recipe's x0.1).

    Build it under the strategy scope the model was built in.
    """
    groups = parameter_groups(model, layer_decay, skip)
    if backbone_lr_scale != 1.0:
        backbone = {v.path for v in getattr(model, "backbone", model).trainable_variables}
        if not hasattr(model, "backbone"):
            raise InputError(f"backbone_lr_scale needs a model with a backbone; {model.name} "
                             "has none")
        for group in groups:
            if group["path"] in backbone:
                group["lr_scale"] *= backbone_lr_scale
    schedule = WarmupCosine(lr, total_steps, warmup_steps, min_lr, warmup_lr)
    optimizer = LayerDecayAdamW(
        learning_rate=schedule,
        weight_decay=weight_decay,
        beta_1=betas[0],
        beta_2=betas[1],
        epsilon=eps,
        lr_scales={g["path"]: g["lr_scale"] for g in groups},
        decay_paths=[g["path"] for g in groups if g["weight_decay"]],
        global_clipnorm=clip_grad,
    )
    optimizer.build(model.trainable_variables)
    if loss_scale:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
    return optimizer
