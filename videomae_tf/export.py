"""SavedModel export (TensorFlow only): a serving signature that takes normalised clips.

Lives outside ``models/`` because it is TensorFlow-specific. The exported function is
``serve(pixel_values)`` with a fixed (None, T, H, W, 3) float32 input, so TF Serving,
TFLite converters and ``tf.saved_model.load`` all see a static clip shape.
"""

from pathlib import Path


def export_saved_model(model, directory):
    """Write ``model`` as a SavedModel in ``directory``; returns the directory.

    Classifiers export ``serve(pixel_values) -> logits``. Pretrainers export
    ``serve(pixel_values, visible_index, reconstruct_index) -> predictions``.
    """
    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("SavedModel export needs the TensorFlow backend (KERAS_BACKEND=tensorflow)")
    from videomae_tf.models import VideoMAEPretrainer

    directory = Path(directory)
    clip_spec = tf.TensorSpec((None,) + tuple(model_clip_shape(model)), tf.float32, name="pixel_values")
    archive = keras.export.ExportArchive()
    archive.track(model)
    if isinstance(model, VideoMAEPretrainer):
        def serve(pixel_values, visible_index, reconstruct_index):
            return model(
                {"pixel_values": pixel_values, "visible_index": visible_index,
                 "reconstruct_index": reconstruct_index},
                training=False,
            )

        signature = [
            clip_spec,
            tf.TensorSpec((None, None), tf.int32, name="visible_index"),
            tf.TensorSpec((None, None), tf.int32, name="reconstruct_index"),
        ]
    else:
        def serve(pixel_values):
            return model(pixel_values, training=False)

        signature = [clip_spec]
    archive.add_endpoint("serve", serve, input_signature=signature)
    archive.write_out(str(directory), verbose=False)
    return directory


def model_clip_shape(model):
    """The (T, H, W, C) clip a VideoMAE model takes."""
    encoder = getattr(model, "encoder", model)
    return encoder.clip_shape
