"""``python -m videomae_tf.cli``: the ``videomae-tf`` command."""

import sys

from videomae_tf.cli import main

sys.exit(main())
