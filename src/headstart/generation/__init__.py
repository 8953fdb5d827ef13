"""Transfer for generation: translation and summarization with decoder-only and encoder-decoder models."""

from .data import Pairs, TruncationWarning, read_pairs
from .model import Seq2SeqModel

__all__ = ["Pairs", "Seq2SeqModel", "TruncationWarning", "read_pairs"]
