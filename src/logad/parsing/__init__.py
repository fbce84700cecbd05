"""logad.parsing: masking, the default streaming parser, the Drain-compatible parser, presets and
parser accuracy."""

from logad.parsing.accuracy import grouping_accuracy, parsing_accuracy, template_f1
from logad.parsing.drain import ChangeType, DrainParser
from logad.parsing.masking import DRAIN3_EXAMPLE_RULES, DRAIN3_INI_RULES, Masker, MaskingRule
from logad.parsing.presets import PRESETS, parser_for
from logad.parsing.skeleton import SkeletonParser
from logad.parsing.state import load_parser

__all__ = ["ChangeType", "DRAIN3_EXAMPLE_RULES", "DRAIN3_INI_RULES", "DrainParser", "Masker", "MaskingRule",
           "PRESETS", "SkeletonParser", "grouping_accuracy", "load_parser", "parser_for", "parsing_accuracy",
           "template_f1"]
