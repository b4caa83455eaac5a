"""Run configs: every default and recipe (``recipes``), overrides (``overrides``) and the
checks a config passes before a run starts (``checks``). Pure Python: importing it does
not start TensorFlow."""

from videomae_tf.config.checks import (RUN_KEY_OF_MODEL_OPTION, check_agreement, check_keys,
                                       check_values, run_model_options)
from videomae_tf.config.overrides import apply_settings, merge, parse_override, set_path
from videomae_tf.config.recipes import (
    FINETUNE_DEFAULTS,
    FINETUNE_RECIPES,
    PRETRAIN_DEFAULTS,
    PRETRAIN_RECIPES,
    RUN_DEFAULTS,
    TASKS,
    defaults,
    get_config,
    get_pretrain_config,
    get_recipe,
    recipe_names,
    resolve,
)

__all__ = ["FINETUNE_DEFAULTS", "FINETUNE_RECIPES", "PRETRAIN_DEFAULTS", "PRETRAIN_RECIPES",
           "RUN_DEFAULTS", "RUN_KEY_OF_MODEL_OPTION", "TASKS", "apply_settings",
           "check_agreement", "check_keys", "check_values", "defaults", "get_config", "get_pretrain_config",
           "get_recipe", "merge", "parse_override", "recipe_names", "resolve", "run_model_options", "set_path"]
