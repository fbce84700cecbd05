"""Train / validation / test splits by time, the originals' protocols, and the leakage audit."""

from logad.splitting.audit import audit_split
from logad.splitting.splits import PROTOCOLS, Split, chronological_split, session_files_split

__all__ = ["PROTOCOLS", "Split", "audit_split", "chronological_split", "session_files_split"]
