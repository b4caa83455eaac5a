"""Shared checks for the VideoMAE layers and models, after keras-hub's ``TestCase``
(``run_layer_test``, ``run_model_saving_test``), as plain functions for pytest.

A ``Case`` names a class, its constructor arguments and an input; each check builds
fresh instances from it:

* ``run_config_round_trip``: ``from_config(get_config())`` gives an equal config and,
  with the same weights, equal outputs;
* ``run_keras_file_round_trip``: ``.keras`` save and load, equal config and outputs;
* ``run_weights_file_round_trip``: ``.weights.h5`` into a fresh instance, equal outputs;
* ``run_dtype_policy_test``: built under a dtype policy ("mixed_bfloat16"), the outputs
  are finite and in the policy's compute dtype;
* ``run_compiled_vs_eager_test``: the compiled call (TensorFlow ``jit_compile=True``,
  ``jax.jit``) equals the eager one within 1e-5 (absolute and relative).

``run_layer_test`` runs the output-shape, config, dtype and compiled checks,
``run_model_saving_test`` the two file round trips; both take an already built instance
to share one between them. ``registered_layer_classes()`` lists
every layer and model class registered under the "videomae_tf" package, so that a test
can fail for a class without a case.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import pkgutil
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np

__all__ = ["Case", "instantiate", "registered_layer_classes", "run_compiled_vs_eager_test",
           "run_config_round_trip", "run_dtype_policy_test", "run_keras_file_round_trip",
           "run_layer_test", "run_model_saving_test", "run_weights_file_round_trip"]

PACKAGE = "videomae_tf"


@dataclasses.dataclass
class Case:
    """One class under test.

    Attributes:
        cls: the layer or model class.
        init_kwargs: its constructor arguments (tiny sizes).
        inputs: the call's first argument: an array, or a dict of arrays.
        call_kwargs: other call arguments (``training=False`` is always passed).
        expected_output_shape: a shape, or a dict of shapes for dict outputs (None: skip).
        atol: tolerance of the output comparisons (absolute, and relative to the values).
    """

    cls: type
    init_kwargs: dict
    inputs: Any
    call_kwargs: dict = dataclasses.field(default_factory=dict)
    expected_output_shape: Any = None
    atol: float = 1e-5


def instantiate(case: Case, **overrides):
    """A fresh instance of ``case.cls``, built by one call on the case's inputs."""
    layer = case.cls(**dict(case.init_kwargs, **overrides))
    _call(layer, case)
    return layer


def _call(layer, case: Case):
    return layer(case.inputs, training=False, **case.call_kwargs)


def _numpy(outputs) -> list[np.ndarray]:
    return [np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(x, "float32")))
            for x in keras.tree.flatten(outputs)]


def assert_outputs_close(got, want, atol: float = 1e-5, what: str = "outputs") -> None:
    """Equal structure (dict keys) and values within ``atol``."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), (what, got, want)
    got, want = _numpy(got), _numpy(want)
    assert len(got) == len(want), what
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=atol, rtol=atol, err_msg=what)


def _plain(config: dict) -> dict:
    """A config as JSON has it (tuples as lists), to compare configs across files."""
    return json.loads(json.dumps(keras.saving.serialize_keras_object(config)))


def check_output_shape(case: Case, outputs) -> None:
    want = case.expected_output_shape
    if want is None:
        return
    if isinstance(want, dict):
        assert sorted(outputs) == sorted(want), (sorted(outputs), sorted(want))
        for key, shape in want.items():
            assert tuple(outputs[key].shape) == tuple(shape), (key, outputs[key].shape, shape)
    else:
        assert tuple(outputs.shape) == tuple(want), (outputs.shape, want)


def run_config_round_trip(case: Case, layer=None) -> None:
    """``from_config(get_config())``: an equal config and, with the same weights, equal
    outputs."""
    layer = layer or instantiate(case)
    config = layer.get_config()
    clone = case.cls.from_config(config)
    assert type(clone) is case.cls
    assert clone.get_config() == config, (clone.get_config(), config)
    _call(clone, case)
    clone.set_weights(layer.get_weights())
    assert_outputs_close(_call(clone, case), _call(layer, case), case.atol, "from_config")


def _save_weights(layer, path: Path) -> None:
    if isinstance(layer, keras.Model):
        layer.save_weights(path)
    else:  # what Model.save_weights does, for a layer
        from keras.src.saving import saving_lib

        saving_lib.save_weights_only(layer, str(path))


def _load_weights(layer, path: Path) -> None:
    if isinstance(layer, keras.Model):
        layer.load_weights(path)
    else:
        from keras.src.saving import saving_lib

        saving_lib.load_weights_only(layer, str(path))


def run_weights_file_round_trip(case: Case, folder: Path, layer=None) -> None:
    """``.weights.h5`` of one instance loaded into a fresh one: equal outputs."""
    layer = layer or instantiate(case)
    path = Path(folder) / f"{case.cls.__name__}.weights.h5"
    _save_weights(layer, path)
    fresh = instantiate(case)
    _load_weights(fresh, path)
    assert_outputs_close(_call(fresh, case), _call(layer, case), case.atol, ".weights.h5")


def run_keras_file_round_trip(case: Case, folder: Path, layer=None) -> None:
    """``.keras`` save and ``keras.saving.load_model``: same class, equal config, equal
    outputs."""
    layer = layer or instantiate(case)
    path = Path(folder) / f"{case.cls.__name__}.keras"
    keras.saving.save_model(layer, path)
    again = keras.saving.load_model(path)
    assert type(again) is case.cls
    assert _plain(again.get_config()) == _plain(layer.get_config())
    assert_outputs_close(_call(again, case), _call(layer, case), case.atol, ".keras")


def run_dtype_policy_test(case: Case, policy: str = "mixed_bfloat16") -> None:
    """Built with ``dtype=policy``: every sublayer follows it, and the outputs are finite
    and in its compute dtype."""
    layer = instantiate(case, dtype=policy)
    compute = keras.DTypePolicy(policy).compute_dtype
    stray = [sub.path for sub in layer._flatten_layers(include_self=False)
             if sub.dtype_policy.name != policy
             and not isinstance(sub, keras.layers.InputLayer)]  # a functional model's input
    assert not stray, f"sublayers not under {policy}: {stray[:5]}"
    outputs = _call(layer, case)
    for x in keras.tree.flatten(outputs):
        assert keras.backend.standardize_dtype(x.dtype) == compute, (x.dtype, compute)
        assert np.isfinite(np.asarray(keras.ops.convert_to_numpy(
            keras.ops.cast(x, "float32")))).all()
    kept = layer.get_config().get("dtype")
    assert kept is not None and keras.dtype_policies.get(kept).name == policy, \
        f"the config does not keep the dtype policy: {kept!r}"


def compiled(layer, case: Case) -> Callable[[], Any]:
    """The layer's inference call on the case's inputs, compiled on this backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        function = tf.function(lambda x: layer(x, training=False, **case.call_kwargs),
                               jit_compile=True)
        return lambda: function(case.inputs)
    if backend == "jax":
        import jax

        # stateless_call hands `training` to call() as it is, unlike __call__
        kwargs = dict(case.call_kwargs)
        if "training" in inspect.signature(layer.call).parameters:
            kwargs["training"] = False

        def run(trainable, non_trainable, x):
            outputs, _ = layer.stateless_call(trainable, non_trainable, x, **kwargs)
            return outputs

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]
        return lambda: jax.jit(run)(trainable, non_trainable, case.inputs)
    import pytest

    pytest.skip(f"no compiled call on the {backend} backend (the other checks ran)")


def run_compiled_vs_eager_test(case: Case, layer=None) -> None:
    """The compiled call equals the eager one within ``case.atol`` (at most 1e-5)."""
    layer = layer or instantiate(case)
    assert_outputs_close(compiled(layer, case)(), _call(layer, case), min(case.atol, 1e-5),
                         "compiled")


def run_layer_test(case: Case, layer=None) -> None:
    """Output shape, config round trip, dtype policy and compiled-vs-eager for ``case``
    (``layer``: an instance from ``instantiate(case)``, else a new one)."""
    layer = layer or instantiate(case)
    check_output_shape(case, _call(layer, case))
    run_config_round_trip(case, layer)
    run_dtype_policy_test(case)
    run_compiled_vs_eager_test(case, layer)


def run_model_saving_test(case: Case, folder: Path, layer=None) -> None:
    """The ``.keras`` and ``.weights.h5`` round trips of ``case`` in ``folder``."""
    layer = layer or instantiate(case)
    run_keras_file_round_trip(case, folder, layer)
    run_weights_file_round_trip(case, folder, layer)


def registered_layer_classes(modules: tuple[str, ...] = (f"{PACKAGE}.models",)) -> dict:
    """{registered name: class} of every ``keras.layers.Layer`` (models included)
    registered with ``register_keras_serializable(package="videomae_tf")``, after
    importing every module under ``modules``."""
    for name in modules:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            importlib.import_module(info.name)
    return {key: obj for key, obj in keras.saving.get_custom_objects().items()
            if key.startswith(f"{PACKAGE}>") and isinstance(obj, type)
            and issubclass(obj, keras.layers.Layer)}
