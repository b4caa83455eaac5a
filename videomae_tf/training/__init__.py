"""Training: pretraining and fine-tuning on one engine -- layer-decayed AdamW, warmup-cosine schedule, losses, a distributed
training loop with crash-safe checkpoints, the official recipes, and ``finetune``."""

from videomae_tf.training.checkpoint import TrainingCheckpoint
from videomae_tf.training.distribute import make_strategy, resolve_precision
from videomae_tf.training.engine import NonFiniteLossError, Trainer
from videomae_tf.training.finetune import build_classifier, finetune, resolve_config
from videomae_tf.training.pretrain import pretrain
from videomae_tf.training.losses import (
    classification_loss,
    label_smoothing_cross_entropy,
    soft_target_cross_entropy,
)
from videomae_tf.training.optimizer import (
    LayerDecayAdamW,
    layer_id,
    make_optimizer,
    parameter_groups,
    scaled_lr,
    uses_weight_decay,
)
# the configs live in videomae_tf.config; these names stay here for existing code
from videomae_tf.config import (
    FINETUNE_DEFAULTS,
    FINETUNE_RECIPES,
    PRETRAIN_RECIPES,
    get_config,
    get_pretrain_config,
    get_recipe,
    merge,
)
from videomae_tf.training.schedules import WarmupCosine, cosine_schedule
