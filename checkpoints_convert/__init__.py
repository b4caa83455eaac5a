"""Convert VideoMAE / VideoMAE V2 checkpoints to Keras: ``videomae-convert`` and ``convert()``.

Sources: official V1/V2 .pth files (fine-tuned or pretrained, weights under 'model',
'module' or at the top level, ``_orig_mod.`` prefixes, encoder-only files), mmaction2
recognizers, transformers VideoMAE folders, and CatMAE image-ViT checkpoints.

    from checkpoints_convert import convert
    result = convert("vit_b_k400_ft.pth", "vit_b_k400.weights.h5")
    model = result.model                    # or later: videomae_tf.load_model(path)

torch is needed only for .pth/.bin files (``pip install videomae_tf[convert]``) and is
imported only when one is read. TensorFlow/Keras are imported when converting, not on
``import checkpoints_convert``.
"""

from checkpoints_convert.errors import ConversionError

__all__ = ["ConversionError", "ConversionResult", "convert", "read_source", "main"]


def __getattr__(name):
    if name in ("convert", "ConversionResult"):
        from checkpoints_convert import converter

        return getattr(converter, name)
    if name == "read_source":
        from checkpoints_convert.reader import read_source

        return read_source
    if name == "main":
        from checkpoints_convert.__main__ import main

        return main
    raise AttributeError(f"module 'checkpoints_convert' has no attribute {name!r}")
