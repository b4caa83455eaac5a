"""Keras 3 VideoMAE models: encoder, feature backbone, classifier, masked autoencoder and the
named architectures."""

from videomae_tf.models.backbone import VideoMAEBackbone
from videomae_tf.models.classifier import VideoMAEClassifier
from videomae_tf.models.encoder import VideoMAEEncoder
from videomae_tf.models.heads import ArcFace, FrameAssistHead
from videomae_tf.models.micro_action import MicroActionModel
from videomae_tf.models.layers import sinusoid_table
from videomae_tf.models.naming import official_key, official_weights
from videomae_tf.models.pretrainer import (
    VideoMAEPretrainer,
    reconstruction_loss,
    reconstruction_target,
)
from videomae_tf.models.saving import load_model, model_config, save_weights
from videomae_tf.models.architectures import (
    ARCHITECTURES,
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
    backbone_model,
    count_parameters,
    finetune_model,
    model_from_config,
    pretrain_model,
)
