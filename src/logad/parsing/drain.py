"""Our streaming Drain parser.

Drain (He et al., ICWS'17): lines are masked, split into tokens, and routed through a fixed-depth
prefix tree (token count, then the first tokens; tokens holding digits take the `<*>` branch) to
a leaf holding a few clusters; the line joins the most similar cluster when the similarity
(share of equal non-wildcard tokens) reaches the threshold, and differing positions of the
template become `<*>`. Otherwise it founds a new cluster.

Speed: after masking most lines repeat an earlier masked line exactly, so a dictionary from the
masked token tuple to its cluster skips the tree for them. This is what Drain would do anyway for
a line whose cluster already covers it, and it makes identical masked lines always share a group.

`add` may create or change a template and returns the line's stable id (1.., creation order,
never reused); `match` never mutates anything. State saves to JSON atomically.
"""

from __future__ import annotations

import enum
import json
import re
from pathlib import Path

from logad.errors import InputError, InvalidParameterError
from logad.parsing.masking import DRAIN3_EXAMPLE_RULES, Masker
from logad.records import ParsedLine

WILDCARD = "<*>"
STATE_FORMAT = "logad-drain"
STATE_VERSION = 1
_HAS_DIGIT = re.compile(r"\d").search


class ChangeType(enum.Enum):
    NONE = "none"
    CREATED = "created"
    UPDATED = "updated"


class _Cluster:
    __slots__ = ("cid", "tokens", "size", "template")

    def __init__(self, cid: int, tokens: list[str], size: int = 1) -> None:
        self.cid = cid
        self.tokens = tokens
        self.size = size
        self.template = " ".join(tokens)  # kept current: joined once per change, not per line


class DrainParser:
    """Streaming Drain with masking rules as data.

    depth: tree depth as in LogPAI Drain and Drain3 (root, token-count and leaf levels included),
    so `depth=4` routes by the first token. similarity: threshold in [0, 1]. max_children: branches per
    inner node before tokens fall into `<*>`. masking: rules (see masking.py); `placeholder="<*>"`
    renders masks as wildcards (LogPAI style). extra_delimiters: characters split like spaces.
    """

    def __init__(
        self,
        *,
        depth: int = 4,
        similarity: float = 0.4,
        max_children: int = 100,
        max_clusters: int | None = None,
        max_cache: int = 200_000,
        masking=DRAIN3_EXAMPLE_RULES,
        mask_placeholder: str | None = None,
        extra_delimiters: tuple[str, ...] = (),
        parametrize_numeric_tokens: bool = True,
    ) -> None:
        self.depth = depth
        self.similarity = similarity
        self.max_children = max_children
        self.max_clusters = max_clusters
        self.max_cache = max_cache
        self.masking = tuple(masking)
        self.mask_placeholder = mask_placeholder
        self.extra_delimiters = tuple(extra_delimiters)
        self.parametrize_numeric_tokens = parametrize_numeric_tokens
        self._ready = False

    # ------------------------------------------------------------------ setup
    def _setup(self) -> None:
        if not isinstance(self.depth, int) or self.depth < 3:
            raise InvalidParameterError(f"`depth` must be an integer >= 3, got {self.depth!r}")
        if not 0 <= self.similarity <= 1:
            raise InvalidParameterError(f"`similarity` must be in [0, 1], got {self.similarity!r}")
        if not isinstance(self.max_children, int) or self.max_children < 2:
            raise InvalidParameterError(f"`max_children` must be an integer >= 2, got {self.max_children!r}")
        self._masker = Masker(self.masking, placeholder=self.mask_placeholder)
        self._delims = re.compile("|".join(re.escape(d) for d in self.extra_delimiters)) if self.extra_delimiters else None
        self._clusters: dict[int, _Cluster] = {}
        self._root: dict = {}
        self._cache: dict[str, int] = {}
        self._next_id = 1
        self.last_change = ChangeType.NONE
        self._ready = True

    def _ensure(self) -> None:
        if not self._ready:
            self._setup()

    # ------------------------------------------------------------------ public API
    @property
    def templates(self) -> dict[int, str]:
        self._ensure()
        return {cid: c.template for cid, c in self._clusters.items()}

    def masked(self, content: str) -> str:
        """The line after masking and delimiter splitting (the key of the line cache)."""
        self._ensure()
        text = self._masker(content)
        if self._delims is not None:
            text = self._delims.sub(" ", text)
        return text

    def tokens(self, content: str) -> tuple[str, ...]:
        """The masked tokens the tree sees."""
        return tuple(self.masked(content).split())

    def add(self, content: str, line_no: int = 0) -> ParsedLine:
        """Learn from a line; returns its template (possibly just created or generalised)."""
        if not self._ready:
            self._setup()
        text = self._masker(content)
        if self._delims is not None:
            text = self._delims.sub(" ", text)
        cid = self._cache.get(text)
        if cid is not None:  # the hot path: a masked line seen before
            c = self._clusters[cid]
            c.size += 1
            self.last_change = ChangeType.NONE
            return ParsedLine(line_no, cid, c.template)
        toks = tuple(text.split())
        leaf = self._leaf(toks, create=True)
        c = self._best(leaf, toks)
        if c is None:
            c = _Cluster(self._next_id, list(toks))
            self._next_id += 1
            self._clusters[c.cid] = c
            leaf.append(c.cid)
            self.last_change = ChangeType.CREATED
        else:
            changed = False
            ctoks = c.tokens
            for i, (a, b) in enumerate(zip(ctoks, toks)):
                if a != b and a != WILDCARD:
                    ctoks[i] = WILDCARD
                    changed = True
            if changed:
                c.template = " ".join(ctoks)
            c.size += 1
            self.last_change = ChangeType.UPDATED if changed else ChangeType.NONE
        if len(self._cache) < self.max_cache:  # bounded: memory grows with templates, not lines
            self._cache[text] = c.cid
        return ParsedLine(line_no, c.cid, c.template)

    def match(self, content: str, line_no: int = 0) -> ParsedLine | None:
        """The template a line belongs to, or None. Never changes the parser."""
        text = self.masked(content)
        cid = self._cache.get(text)
        if cid is None:
            toks = tuple(text.split())
            leaf = self._leaf(toks, create=False)
            c = self._best(leaf, toks, exact_wildcards=True) if leaf is not None else None
            if c is None:
                return None
            cid = c.cid
        return ParsedLine(line_no, cid, self._clusters[cid].template)

    def parameters(self, content: str, template_id: int) -> tuple[str, ...]:
        """The raw values under the wildcards of a line's template (for parameter-value models)."""
        self._ensure()
        c = self._clusters.get(template_id)
        if c is None:
            return ()
        text = content if self._delims is None else self._delims.sub(" ", content)
        raw = text.split()
        if len(raw) == len(c.tokens):
            return tuple(r for r, t in zip(raw, c.tokens) if t == WILDCARD or (t.startswith("<") and t.endswith(">")))
        masked = self.tokens(content)
        return tuple(m for m, t in zip(masked, c.tokens) if t == WILDCARD)

    # ------------------------------------------------------------------ tree
    def _leaf(self, toks: tuple[str, ...], create: bool) -> list[int] | None:
        node = self._root.get(len(toks))
        if node is None:
            if not create:
                return None
            node = self._root[len(toks)] = {}
        levels = min(self.depth - 3, len(toks))  # root, length and leaf are levels too
        if levels == 0:
            leaf = node.get("")
            if leaf is None and create:
                leaf = node[""] = []
            return leaf
        for i in range(levels):
            tok = toks[i]
            if self.parametrize_numeric_tokens and _HAS_DIGIT(tok):
                tok = WILDCARD
            last = i == levels - 1
            child = node.get(tok)
            if child is None:
                if tok != WILDCARD and WILDCARD not in node and len(node) >= self.max_children - 1 and create:
                    tok = WILDCARD
                elif tok != WILDCARD and len(node) >= self.max_children:
                    tok = WILDCARD
                child = node.get(tok)
                if child is None:
                    if not create:
                        return None
                    child = node[tok] = [] if last else {}
            node = child
        return node  # type: ignore[return-value]

    def _best(self, leaf: list[int], toks: tuple[str, ...], exact_wildcards: bool = False) -> _Cluster | None:
        best, best_sim, best_params = None, -1.0, -1
        n = len(toks)
        for cid in leaf:
            c = self._clusters[cid]
            same = params = 0
            for a, b in zip(c.tokens, toks):
                if a == WILDCARD:
                    params += 1
                elif a == b:
                    same += 1
            sim = same / n if n else 1.0
            if sim > best_sim or (sim == best_sim and params > best_params):
                best, best_sim, best_params = c, sim, params
        if best is None or best_sim < self.similarity:
            return None
        if exact_wildcards and best_sim + best_params / max(n, 1) < 1.0:
            return None  # match() only accepts lines the template covers exactly
        return best

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict:
        self._ensure()
        from logad import __version__

        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "logad_version": __version__,
            "params": {
                "depth": self.depth,
                "similarity": self.similarity,
                "max_children": self.max_children,
                "max_clusters": self.max_clusters,
                "max_cache": self.max_cache,
                "masking": [r.to_dict() for r in self._masker.rules],
                "mask_placeholder": self.mask_placeholder,
                "extra_delimiters": list(self.extra_delimiters),
                "parametrize_numeric_tokens": self.parametrize_numeric_tokens,
            },
            "next_id": self._next_id,
            "clusters": [{"id": c.cid, "tokens": c.tokens, "size": c.size} for c in self._clusters.values()],
            # the line cache decides where repeated lines go: saved so a loaded state continues exactly
            "cache": [[k, v] for k, v in self._cache.items()],
        }

    @classmethod
    def from_dict(cls, d: dict) -> DrainParser:
        if not isinstance(d, dict) or d.get("format") != STATE_FORMAT:
            raise InputError(f"not a logad Drain state (format {d.get('format') if isinstance(d, dict) else None!r})")
        if d.get("version") != STATE_VERSION:
            raise InputError(f"Drain state version {d.get('version')!r} is not supported (expected {STATE_VERSION})")
        p = d["params"]
        parser = cls(
            depth=p["depth"],
            similarity=p["similarity"],
            max_children=p["max_children"],
            max_clusters=p.get("max_clusters"),
            max_cache=p.get("max_cache", 200_000),
            masking=[(r["name"], r["pattern"]) for r in p["masking"]],
            mask_placeholder=p.get("mask_placeholder"),
            extra_delimiters=tuple(p.get("extra_delimiters", ())),
            parametrize_numeric_tokens=p.get("parametrize_numeric_tokens", True),
        )
        parser._setup()
        # rebuild the tree by routing each template (creation order keeps leaf order stable)
        for item in sorted(d["clusters"], key=lambda c: c["id"]):
            c = _Cluster(int(item["id"]), list(item["tokens"]), int(item.get("size", 1)))
            parser._clusters[c.cid] = c
            leaf = parser._leaf(tuple(c.tokens), create=True)
            leaf.append(c.cid)
        parser._next_id = int(d["next_id"])
        parser._cache = {str(k): int(v) for k, v in d.get("cache", [])}
        return parser

    def save(self, path: str | Path) -> None:
        from logad.io import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict()) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> DrainParser:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"parser state {p} does not exist")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"parser state {p} is corrupt: {exc}") from exc
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"parser state {p} is incomplete: {exc}") from exc
