"""Per-system parser presets: Brain's benchmark settings for the default parser, and the LogPAI
Drain benchmark settings for the Drain-compatible mode. One deviation from Brain's settings:
Proxifier's removed `(...)` pieces are masked instead (see BRAIN), so that parameters keep them.

Default parser (`SkeletonParser`), `BRAIN`: the regexes (masked as `<*>`), the removed pieces
(Brain's "delimiter" list) and the distinct-value threshold of Brain's benchmark
(logpai/logparser, `logparser/Brain/benchmark.py`), and the per-system characters its code splits
after (`Brain.py`, `get_frequecy_vector`: e.g. HDFS ``:``, Hadoop ``_:=()``; ``,`` for every
system). BGL's extra ``..`` split is not a single character and is left out.

LogPAI's Drain benchmark (logparser, `benchmark/Drain_benchmark.py`) gives each LogHub system a
list of regexes replaced by `<*>` before parsing, a similarity threshold `st` and a tree `depth`.

Depth mapping: LogPAI's `depth` counts the root and the token-count levels (its code keeps
`depth - 2` inner levels, the first of which is the length), so LogPAI depth 4 routes by ONE
leading token, depth 6 by three. Our `DrainParser(depth=...)` uses the same convention (token
levels = depth - 3), so the LogPAI numbers are passed unchanged. Masks are rendered as `<*>`
(`mask_placeholder="<*>"`), as LogPAI replaces its regex matches with `<*>`.

Formats without a preset (user format strings) get the masking of Drain3's example drain3.ini with
depth 4 and similarity 0.4.

This module is data and the keyword arguments built from it; the registry (registry.py) turns
them into parsers.
"""

from __future__ import annotations

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


_B_IP = r"(\d+\.){3}\d+"
_B_DOTTED = r"([\w-]+\.){2,}[\w-]+"
BRAIN: dict[str, dict] = {
    "hdfs": {"regex": [r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?"], "remove": [], "threshold": 2, "split": ":"},
    "hadoop": {"regex": [_B_IP], "remove": [], "threshold": 6, "split": "_:=()"},
    "spark": {"regex": [_B_IP, r"\b[KGTM]?B\b", _B_DOTTED], "remove": [], "threshold": 4, "split": ":"},
    "zookeeper": {"regex": [r"(/|)(\d+\.){3}\d+(:\d+)?"], "remove": [], "threshold": 3, "split": ":="},
    "bgl": {"regex": [r"core\.\d+"], "remove": [], "threshold": 6, "split": "=()"},
    "hpc": {"regex": [], "remove": [], "threshold": 5, "split": "=-:"},
    "thunderbird": {"regex": [_B_IP], "remove": [], "threshold": 3, "split": ":="},
    "windows": {"regex": [r"0x.*?\s"], "remove": [], "threshold": 3, "split": ":=[]"},
    "linux": {"regex": [_B_IP, r"\d{2}:\d{2}:\d{2}", r"J([a-z]{2})"], "remove": [], "threshold": 4, "split": "=:"},
    "android": {
        "regex": [r"(/[\w-]+)+", _B_DOTTED, r"\b(\-?\+?\d+)\b|\b0[Xx][a-fA-F\d]+\b|\b[a-fA-F\d]{4,}\b"],
        "remove": [], "threshold": 5, "split": "():=",
    },
    "healthapp": {"regex": [], "remove": [], "threshold": 4, "split": ":=|"},
    "apache": {"regex": [_B_IP], "remove": [], "threshold": 4, "split": ""},
    # Brain removes `\(.*?\)` here; removed text would be in no template slot and no parameter,
    # so it is masked instead, glued to the token before it (`bytes (1.16 KB)` -> one <*>): the
    # same grouping on loghub_2k (GA 1.000), and every value kept
    "proxifier": {"regex": [r" ?\(.*?\)", r"<\d+\ssec", r"([\w-]+\.)+[\w-]+(:\d+)?", r"\d{2}:\d{2}(:\d{2})*",
                            r"[KGTM]B"],
                  "remove": [], "threshold": 3, "split": ""},
    "openssh": {"regex": [_B_IP, _B_DOTTED], "remove": [], "threshold": 6, "split": ""},
    "openstack": {"regex": [r"((\d+\.){3}\d+,?)+", r"/.+?\s ", r"\d+"], "remove": [], "threshold": 5, "split": ""},
    "mac": {"regex": [_B_DOTTED], "remove": [], "threshold": 5, "split": ""},
}
BRAIN["spirit"] = BRAIN["thunderbird"]
BRAIN["liberty"] = BRAIN["thunderbird"]

#: The Drain settings per LogHub system name (lower case): `regex` list, `st`, `depth`.
PRESETS: dict[str, dict] = LOGPAI_DRAIN


def default_preset(format_name: str) -> dict:
    """Keyword arguments of SkeletonParser for a format name (the drain3.ini masking for others)."""
    s = BRAIN.get(format_name.lower())
    if s is None:
        return {"masking": DRAIN3_EXAMPLE_RULES, "split_after": ",", "min_distinct": 4}
    return {
        "masking": tuple(MaskingRule(f"P{i}", rx) for i, rx in enumerate(s["regex"])),
        "mask_placeholder": "<*>",
        "remove": tuple(s["remove"]),
        "split_after": s["split"] + ("," if "," not in s["split"] else ""),
        "min_distinct": s["threshold"],
    }


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


#: the name the registry uses
drain_preset = preset
