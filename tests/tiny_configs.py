"""Tiny model configs shared by the model tests (fast on a 2-core CPU)."""

TINY = dict(img_size=32, num_frames=4, patch_size=16, tubelet_size=2, embed_dim=32, depth=2, num_heads=2)
TINY_DECODER = dict(decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)
TINY_CLIP = (4, 32, 32, 3)
TINY_TOKENS = 8  # (4 / 2) * (32 / 16) * (32 / 16)
