"""A saved deep model is a folder: weights.safetensors + config.json + vocab.json.

Loading never unpickles: safetensors holds only tensors, the rest is JSON. A folder saved by
another detector, by an incompatible version, or damaged, is refused with a clear message.
"""

from __future__ import annotations

import json
from pathlib import Path

from logad.errors import InputError, require

KIND = "logad-deep-model"
FORMAT_VERSION = 1
WEIGHTS, CONFIG, VOCAB = "weights.safetensors", "config.json", "vocab.json"


def save_folder(directory: str | Path, *, detector: str, config: dict, tensors: dict, vocab: dict) -> Path:
    from logad import __version__
    from logad.io import atomic_write_text

    st = require("safetensors.torch", "deep")
    torch = require("torch", "deep")
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    st.save_file(tensors, str(path / WEIGHTS))
    meta = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "detector": detector,
        "logad_version": __version__,
        "torch_version": torch.__version__,
        **config,
    }
    atomic_write_text(path / VOCAB, json.dumps(vocab) + "\n")
    atomic_write_text(path / CONFIG, json.dumps(meta, indent=2, sort_keys=True) + "\n")  # last: marks completion
    return path


def load_folder(directory: str | Path, *, detector: str) -> tuple[dict, dict, dict]:
    """(config, tensors, vocab) of a folder saved for `detector`; InputError otherwise."""
    path = Path(directory)
    cfg_path = path / CONFIG
    if not path.exists():
        raise InputError(f"model folder {path} is missing")
    if not path.is_dir():
        raise InputError(f"{path} is not a model folder")
    if not cfg_path.is_file():
        raise InputError(f"{path} is not a logad deep model folder ({CONFIG} is missing)")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{cfg_path} is corrupt: {exc}") from exc
    if isinstance(config, dict) and config.get("format") == "logad-detector":
        raise InputError(f"{path} holds a {config.get('name')!r} detector, not a {detector!r} model")
    if not isinstance(config, dict) or config.get("kind") != KIND:
        raise InputError(f"{path} does not hold a logad deep model")
    if config.get("detector") != detector:
        raise InputError(f"{path} holds a {config.get('detector')!r} model, not {detector!r}")
    if config.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"{path} was saved in format version {config.get('format_version')!r}; this logad reads {FORMAT_VERSION}"
        )
    st = require("safetensors.torch", "deep")
    try:
        tensors = st.load_file(str(path / WEIGHTS))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise InputError(f"{path / WEIGHTS} is missing or corrupt: {exc}") from exc
    try:
        vocab = json.loads((path / VOCAB).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path / VOCAB} is missing or corrupt: {exc}") from exc
    return config, tensors, vocab
