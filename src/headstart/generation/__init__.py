"""Transfer for generation: translation and summarization with decoder-only and encoder-decoder models."""

from .data import Pairs, TruncationWarning, read_pairs
from .model import Seq2SeqModel, is_generation_folder

__all__ = ["Pairs", "Seq2SeqModel", "TruncationWarning", "is_generation_folder", "read_pairs"]
