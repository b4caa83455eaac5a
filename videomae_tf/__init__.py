"""VideoMAE and VideoMAE V2 in Keras 3.

    from videomae_tf import VideoMAE_ViTB16FT
    model = VideoMAE_ViTB16FT(num_classes=400)
"""

from videomae_tf.models import (  # noqa: F401
    ARCHITECTURES,
    VideoMAEClassifier,
    VideoMAEEncoder,
    VideoMAEPretrainer,
    VideoMAE_ViTB16FT,
    VideoMAE_ViTB16PT,
    VideoMAE_ViTG14FT,
    VideoMAE_ViTG14PT,
    VideoMAE_ViTH16FT,
    VideoMAE_ViTH16PT,
    VideoMAE_ViTL16FT,
    VideoMAE_ViTL16PT,
    VideoMAE_ViTS16FT,
    VideoMAE_ViTS16PT,
    count_parameters,
    finetune_model,
    load_model,
    model_from_config,
    pretrain_model,
    save_weights,
)

__version__ = "0.1.0"
