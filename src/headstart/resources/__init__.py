"""Files shipped inside the package (the demo sample)."""

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent
DEMO_TRAIN = RESOURCES / "demo" / "sst2_train.csv"
DEMO_TEST = RESOURCES / "demo" / "sst2_test.csv"
