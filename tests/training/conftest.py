"""Makes ``training_helpers`` (tiny models and data) importable by the training tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
