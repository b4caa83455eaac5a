"""The warmup-cosine schedule against the official numpy scheduler and hand computation."""

import math

import numpy as np
import pytest

from videomae_tf.training import WarmupCosine, cosine_schedule


def test_official_schedule_hand_values():
    values = cosine_schedule(1e-3, 1e-6, epochs=10, steps_per_epoch=10, warmup_epochs=1)
    assert len(values) == 100
    assert values[0] == 0.0                       # warmup starts at 0
    assert values[5] == pytest.approx(1e-3 * 5 / 9)  # linspace(0, base, 10)
    assert values[9] == pytest.approx(1e-3)
    assert values[10] == pytest.approx(1e-3)      # cosine starts at base
    assert values[55] == pytest.approx(1e-6 + 0.5 * (1e-3 - 1e-6))  # half-way: cos(pi/2)
    assert values[99] == pytest.approx(1e-6 + 0.5 * (1e-3 - 1e-6) * (1 + math.cos(math.pi * 89 / 90)))


@pytest.mark.parametrize("warmup,warmup_lr", [(10, 0.0), (1, 0.0), (0, 0.0), (7, 1e-8)])
def test_keras_schedule_equals_official(warmup, warmup_lr):
    total = 60
    schedule = WarmupCosine(2e-3, total, warmup, min_lr=1e-5, warmup_lr=warmup_lr)
    official = cosine_schedule(2e-3, 1e-5, epochs=total, steps_per_epoch=1, warmup_steps=warmup,
                               warmup_epochs=1 if warmup else 0, start_warmup_value=warmup_lr)
    got = np.array([float(schedule(step)) for step in range(total)])
    np.testing.assert_allclose(got, official, rtol=1e-5, atol=1e-10)
    assert float(schedule(total + 5)) == pytest.approx(1e-5)  # stays at min_lr


def test_schedule_needs_steps_after_warmup():
    with pytest.raises(ValueError, match="warmup"):
        WarmupCosine(1e-3, total_steps=5, warmup_steps=5)
