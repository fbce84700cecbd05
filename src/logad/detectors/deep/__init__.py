"""Deep sequence detectors (extra `deep`): torch is imported lazily, inside these modules only."""
