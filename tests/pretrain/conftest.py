"""Shared pieces of the pretraining tests: a tiny synthetic dataset, tiny configs."""

import pytest


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory):
    """A small copy of the embedded synthetic dataset (32 train + 16 val videos)."""
    from videomae_tf.data import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("synthetic"), num_train_per_class=4,
                                  num_val_per_class=2)
