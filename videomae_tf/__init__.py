"""VideoMAE and VideoMAE V2 in Keras 3.

    from videomae_tf import VideoMAE_ViTB16FT
    model = VideoMAE_ViTB16FT(num_classes=400)

The names below load on first use, so ``import videomae_tf.cli`` or
``videomae_tf.data`` does not start TensorFlow before it is needed.
"""

__version__ = "0.1.0"

from videomae_tf.cpu import prefer_onednn as _prefer_onednn

_prefer_onednn()  # before anything imports TensorFlow: its oneDNN kernels on every x86 CPU

_MODELS = (
    "ARCHITECTURES",
    "VideoMAEBackbone",
    "VideoMAEClassifier",
    "VideoMAEEncoder",
    "VideoMAEPretrainer",
    "VideoMAE_ViTB16FT",
    "VideoMAE_ViTB16PT",
    "VideoMAE_ViTG14FT",
    "VideoMAE_ViTG14PT",
    "VideoMAE_ViTH16FT",
    "VideoMAE_ViTH16PT",
    "VideoMAE_ViTL16FT",
    "VideoMAE_ViTL16PT",
    "VideoMAE_ViTS16FT",
    "VideoMAE_ViTS16PT",
    "backbone_model",
    "count_parameters",
    "finetune_model",
    "load_model",
    "model_from_config",
    "pretrain_model",
    "save_weights",
)

#: Tools beyond the models: name -> the module that holds it.
_TOOLS = {
    "extract_features": "videomae_tf.features",
    "load_features": "videomae_tf.features",
    "predict_timeline": "videomae_tf.timeline",
    "TadWindows": "videomae_tf.tad",
    "export_model": "videomae_tf.export",
    "train_linear_probe": "videomae_tf.training.linear_probe",
    "save_pretrained": "videomae_tf.hub",
    "from_pretrained": "videomae_tf.hub",
    "push_to_hub": "videomae_tf.hub",
}

__all__ = list(_MODELS) + list(_TOOLS)


def __getattr__(name):
    if name in _MODELS:
        from videomae_tf import models

        return getattr(models, name)
    if name in _TOOLS:
        import importlib

        return getattr(importlib.import_module(_TOOLS[name]), name)
    raise AttributeError(f"module 'videomae_tf' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_MODELS) + list(_TOOLS))
