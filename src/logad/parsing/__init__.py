"""logad.parsing: masking, our streaming Drain parser, LogPAI presets and parser accuracy."""

from logad.parsing.accuracy import grouping_accuracy, parsing_accuracy, template_f1
from logad.parsing.drain import ChangeType, DrainParser
from logad.parsing.masking import DRAIN3_EXAMPLE_RULES, DRAIN3_INI_RULES, Masker, MaskingRule
from logad.parsing.presets import PRESETS, parser_for

__all__ = ["ChangeType", "DRAIN3_EXAMPLE_RULES", "DRAIN3_INI_RULES", "DrainParser", "Masker", "MaskingRule",
           "PRESETS", "grouping_accuracy", "parser_for", "parsing_accuracy", "template_f1"]
