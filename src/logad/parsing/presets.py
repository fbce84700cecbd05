"""Per-system parser presets reproducing the LogPAI Drain benchmark settings.

LogPAI's Drain benchmark (logparser, `benchmark/Drain_benchmark.py`) gives each LogHub system a
list of regexes replaced by `<*>` before parsing, a similarity threshold `st` and a tree `depth`
(root and token-count levels included, as our `depth` is). Systems without a preset (user format
strings) get the masking of Drain3's example configuration with depth 4 and similarity 0.4.
"""

from __future__ import annotations

from logad.parsing.drain import DrainParser
from logad.parsing.masking import DRAIN3_EXAMPLE_RULES, MaskingRule

_IP = r"(\d+\.){3}\d+"

LOGPAI_DRAIN: dict[str, dict] = {
    "hdfs": {"regex": [r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?"], "st": 0.5, "depth": 4},
    "hadoop": {"regex": [_IP], "st": 0.5, "depth": 4},
    "spark": {"regex": [_IP, r"\b[KGTM]?B\b", r"([\w-]+\.){2,}[\w-]+"], "st": 0.5, "depth": 4},
    "zookeeper": {"regex": [r"(/|)(\d+\.){3}\d+(:\d+)?"], "st": 0.5, "depth": 4},
    "bgl": {"regex": [r"core\.\d+"], "st": 0.5, "depth": 4},
    "hpc": {"regex": [r"=\d+"], "st": 0.5, "depth": 4},
    "thunderbird": {"regex": [_IP], "st": 0.5, "depth": 4},
    "windows": {"regex": [r"0x.*?\s"], "st": 0.7, "depth": 5},
    "linux": {"regex": [_IP, r"\d{2}:\d{2}:\d{2}"], "st": 0.39, "depth": 6},
    "android": {
        "regex": [r"(/[\w-]+)+", r"([\w-]+\.){2,}[\w-]+", r"\b(\-?\+?\d+)\b|\b0[Xx][a-fA-F\d]+\b|\b[a-fA-F\d]{4,}\b"],
        "st": 0.2,
        "depth": 6,
    },
    "healthapp": {"regex": [], "st": 0.2, "depth": 4},
    "apache": {"regex": [_IP], "st": 0.5, "depth": 4},
    "proxifier": {"regex": [r"<\d+\ssec", r"([\w-]+\.)+[\w-]+(:\d+)?", r"\d{2}:\d{2}(:\d{2})*", r"[KGTM]B"], "st": 0.6, "depth": 3},
    "openssh": {"regex": [_IP, r"([\w-]+\.){2,}[\w-]+"], "st": 0.6, "depth": 5},
    "openstack": {"regex": [r"((\d+\.){3}\d+,?)+", r"/.+?\s", r"\d+"], "st": 0.5, "depth": 5},
    "mac": {"regex": [r"([\w-]+\.){2,}[\w-]+"], "st": 0.7, "depth": 6},
}
# the CFDR systems share Thunderbird's layout and settings
LOGPAI_DRAIN["spirit"] = LOGPAI_DRAIN["thunderbird"]
LOGPAI_DRAIN["liberty"] = LOGPAI_DRAIN["thunderbird"]


def preset(format_name: str) -> dict:
    """Keyword arguments of DrainParser for a format name."""
    s = LOGPAI_DRAIN.get(format_name.lower())
    if s is None:
        return {"depth": 4, "similarity": 0.4, "masking": DRAIN3_EXAMPLE_RULES}
    return {
        "depth": s["depth"],
        "similarity": s["st"],
        "masking": tuple(MaskingRule(f"P{i}", rx) for i, rx in enumerate(s["regex"])),
        "mask_placeholder": "<*>",
    }


def parser_for(format_name: str) -> DrainParser:
    """A fresh parser with the preset of a format (the Drain3 example settings for others)."""
    return DrainParser(**preset(format_name))
