"""The same model code on the JAX and PyTorch backends gives the TensorFlow outputs.

Each backend runs in its own process (Keras picks its backend at import time); the
weights travel as a .weights.h5 file written on TensorFlow.
"""

import importlib.util
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from tests.tiny_configs import TINY, TINY_CLIP, TINY_DECODER

import videomae_tf

SCRIPT = """
import numpy as np, keras, videomae_tf
from videomae_tf.masking import visible_and_reconstructed
d = {folder!r}
clip = np.load(d + "/clip.npy")
ft = videomae_tf.VideoMAE_ViTS16FT(num_classes=5, init_scale=1.0, **{tiny!r})
ft.load_weights(d + "/ft.weights.h5")
np.testing.assert_allclose(keras.ops.convert_to_numpy(ft(clip)), np.load(d + "/ft.npy"), atol=1e-4)
pt = videomae_tf.VideoMAE_ViTS16PT(**{tiny!r}, **{decoder!r})
pt.load_weights(d + "/pt.weights.h5")
enc, dec = np.load(d + "/enc.npy"), np.load(d + "/dec.npy")
got = keras.ops.convert_to_numpy(pt.reconstruct(clip, enc, dec))
np.testing.assert_allclose(got, np.load(d + "/pt.npy"), atol=1e-4)
visible, rec = visible_and_reconstructed(enc, dec)
pt.compile(optimizer="adamw")
history = pt.fit(dict(pixel_values=clip, visible_index=visible, reconstruct_index=rec), epochs=2, verbose=0)
assert np.isfinite(history.history["loss"]).all()
ft.compile(optimizer="adamw", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
ft.fit(clip, np.array([1, 2]), epochs=1, verbose=0, batch_size=2)
print("backend ok", keras.backend.backend())
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backends")
    clip = np.random.default_rng(0).normal(size=(2,) + TINY_CLIP).astype("float32")
    enc = np.tile(np.array([0, 1, 1, 0, 1, 0, 1, 1], bool), (2, 1))
    dec = np.tile(np.array([1, 0, 1, 0, 0, 1, 1, 0], bool), (2, 1))
    ft = videomae_tf.VideoMAE_ViTS16FT(num_classes=5, init_scale=1.0, **TINY)
    pt = videomae_tf.VideoMAE_ViTS16PT(**TINY, **TINY_DECODER)
    ft.save_weights(folder / "ft.weights.h5")
    pt.save_weights(folder / "pt.weights.h5")
    for name, array in dict(clip=clip, enc=enc, dec=dec, ft=np.asarray(ft(clip)),
                            pt=np.asarray(pt.reconstruct(clip, enc, dec))).items():
        np.save(folder / f"{name}.npy", array)
    return folder


@pytest.mark.parametrize("backend, module", [("jax", "jax"), ("torch", "torch")])
def test_backend_matches_tensorflow(reference, backend, module, monkeypatch):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install videomae_tf[backends,convert])")
    monkeypatch.setenv("KERAS_BACKEND", backend)
    script = textwrap.dedent(SCRIPT).format(folder=str(reference), tiny=TINY, decoder=TINY_DECODER)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"backend ok {backend}" in out.stdout
