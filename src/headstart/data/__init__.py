"""Reading, validating, splitting and preprocessing text data."""

from .examples import Examples, check_trainable, from_lists
from .pipeline import Pipeline, Row, fold, summarize
from .readers import read_examples, read_frame
from .split import sample_per_class, stratified_split

__all__ = ["Examples", "check_trainable", "from_lists", "Pipeline", "Row", "fold", "summarize", "read_examples",
           "read_frame", "sample_per_class", "stratified_split"]
