"""logad.parsing: the `Parser` protocol and registry, the default streaming parser, the
Drain-compatible parser, masking, presets, parser accuracy, and `parse_files` (the one path that
turns raw log files into parsed records, used by `logad parse`, the pipeline and the service)."""

from logad.parsing.accuracy import grouping_accuracy, parsing_accuracy, template_f1
from logad.parsing.base import BlockResult, ChangeType, Parameters, Parser, reconstruct, reparameterise
from logad.parsing.drain import DrainParser
from logad.parsing.masking import DRAIN3_EXAMPLE_RULES, DRAIN3_INI_RULES, Masker, MaskingRule
from logad.parsing.presets import PRESETS
from logad.parsing.registry import (
           PARSERS,
           list_parsers,
           load_parser,
           parser_class,
           parser_for,
           register_parser,
)
from logad.parsing.skeleton import SkeletonParser

__all__ = ["BlockResult", "ChangeType", "DRAIN3_EXAMPLE_RULES", "DRAIN3_INI_RULES", "DrainParser", "Masker",
           "MaskingRule", "PARSERS", "PRESETS", "Parameters", "Parser", "SkeletonParser", "grouping_accuracy",
           "list_parsers", "load_parser", "parser_class", "parser_for", "parsing_accuracy", "reconstruct",
           "register_parser", "reparameterise", "template_f1"]
