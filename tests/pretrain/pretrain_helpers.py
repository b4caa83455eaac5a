"""Tiny pretraining configs for the tests (seconds on a 2-core CPU)."""

from videomae_tf.config import get_pretrain_config, merge

# 4 x 32 x 32 clips, patch 8: a 2 x 4 x 4 grid of 32 tokens; tube 0.75 keeps 8 visible.
TINY_MODEL = dict(arch=None, version="v1", patch_size=8, tubelet_size=2, embed_dim=32, depth=1,
                  num_heads=2, decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)


def tiny_pretrain_config(synthetic, output_dir, **overrides):
    """The 'synthetic' recipe shrunk: 6 epochs of 6 steps of 8 views."""
    config = merge(get_pretrain_config("synthetic"), dict(
        model=TINY_MODEL, num_frames=4, input_size=32, output_dir=str(output_dir),
        data=dict(train=str(synthetic["train"]), root=str(synthetic["root"]), synthetic=None,
                  sampling_rate=4, num_sample=1, num_parallel_calls=2),
        batch_size=8, steps_per_epoch=6, epochs=6, lr=9.6e-2, warmup_epochs=1,
        progress=False, checkpoint_every=0))
    return merge(config, overrides)
