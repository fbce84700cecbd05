"""logad.features: template vocabularies and fixed-width sequence vectors."""

from logad.features.vectors import KINDS, SequenceVectorizer
from logad.features.vocabulary import UNSEEN, Vocabulary

__all__ = ["KINDS", "UNSEEN", "SequenceVectorizer", "Vocabulary"]
