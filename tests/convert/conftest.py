import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from tests.convert import convert_helpers as helpers  # noqa: E402


@pytest.fixture(scope="session")
def hf_cls():
    return helpers.hf_classifier(seed=0)


@pytest.fixture(scope="session")
def hf_cls_token0():
    return helpers.hf_classifier(seed=2, use_mean_pooling=False)


@pytest.fixture(scope="session")
def hf_pt():
    return helpers.hf_pretrainer(seed=1)


@pytest.fixture(scope="session")
def hf_pt_norm():
    return helpers.hf_pretrainer(seed=3, use_mean_pooling=False)


@pytest.fixture(scope="session")
def x():
    return helpers.clip()


@pytest.fixture(scope="session")
def hf_cls_folder(hf_cls, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf_cls")
    hf_cls.save_pretrained(folder)
    return folder


@pytest.fixture
def official_ft_file(hf_cls, tmp_path):
    """A tiny official fine-tuned checkpoint ('module' container), fresh per test."""
    path = tmp_path / "src" / "vit_tiny_ft.pth"
    path.parent.mkdir()
    torch.save({"module": helpers.official_state_dict(hf_cls), "epoch": 3}, path)
    return path
