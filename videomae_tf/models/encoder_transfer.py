"""Moving a pretrained encoder into a classifier or backbone, by official name (the
official fine-tune rule). Loading a source that is not a model yet goes through
``videomae_tf.hub.resolve`` and ``saving.load_model``."""

from videomae_tf.errors import InputError
from videomae_tf.models.backbone import VideoMAEBackbone
from videomae_tf.models.classifier import VideoMAEClassifier
from videomae_tf.models.naming import official_weights
from videomae_tf.models.pretrainer import VideoMAEPretrainer

#: Classifier tensors a pretrained encoder never provides (the official fine-tune rule).
_FRESH = ("fc_norm.", "head.", "norm.")


def copy_encoder_weights(source, classifier):
    """Copy the encoder of a pretrained model into ``classifier`` (a ``VideoMAEClassifier``
    or ``VideoMAEBackbone``) by name.

    ``source`` is a model, a model file or folder, an ``hf://`` handle or a zoo name
    (``videomae_tf.hub.resolve``). From a pretraining model, the official fine-tune rule:
    every encoder tensor but the final ``norm`` moves over, fc_norm and the head stay
    freshly initialised (a classifier without mean pooling, e.g. the MA-52 token-map
    backbone, keeps the encoder's ``norm`` as its own). From a fine-tuned classifier (e.g.
    a K710 model as the start of another task) or a backbone: everything but the head moves
    over, its final LayerNorm (fc_norm or norm) becoming the target's. Returns the copied
    keys.
    """
    if not isinstance(source, (VideoMAEPretrainer, VideoMAEClassifier, VideoMAEBackbone)):
        from videomae_tf.hub import resolve
        from videomae_tf.models.saving import load_model

        source = load_model(resolve(source))
    dst = official_weights(classifier)
    token_map_target = "norm.weight" in dst  # no mean pooling: its norm sees every token
    if isinstance(source, VideoMAEPretrainer):
        src = {k[len("encoder."):]: v for k, v in official_weights(source).items()
               if k.startswith("encoder.")
               and (token_map_target or not k.startswith("encoder.norm."))}
    elif isinstance(source, (VideoMAEClassifier, VideoMAEBackbone)):
        src = {k: v for k, v in official_weights(source).items() if not k.startswith("head.")}
        final = ("norm.", "fc_norm.") if "fc_norm.weight" in dst else ("fc_norm.", "norm.")
        src = {(final[1] + k[len(final[0]):] if k.startswith(final[0]) else k): v
               for k, v in src.items()}  # the final LayerNorm, whichever pooling each has
    else:
        raise TypeError(f"expected a VideoMAE model, got {type(source).__name__}")
    missing = sorted(k for k in src if k not in dst)
    if missing:
        raise InputError(f"the classifier has no weights for {len(missing)} pretrained encoder "
                         f"tensors ({', '.join(missing[:3])}, ...): the pretrained encoder is "
                         "larger (deeper or another patch size) than the classifier")
    uncovered = sorted(k for k in dst if k not in src and not k.startswith(_FRESH))
    if uncovered:
        raise InputError(f"the pretrained encoder has no weights for {len(uncovered)} of the "
                         f"classifier's encoder tensors ({', '.join(uncovered[:3])}, ...): it "
                         "is smaller (fewer blocks?) and they would stay random; build the "
                         "classifier with the pretrained depth and width")
    for key, variable in src.items():
        if tuple(dst[key].shape) != tuple(variable.shape):
            raise InputError(
                f"shape mismatch for {key}: pretrained {tuple(variable.shape)}, "
                f"classifier {tuple(dst[key].shape)}"
            )
        dst[key].assign(variable.value)
    return sorted(src)
