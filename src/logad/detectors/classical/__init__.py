"""logad.detectors.classical: count-based detectors (loglizer family, kNN, new-template).

Import the modules directly or go through `logad.detectors.registry`; nothing is imported here
so that `import logad.detectors` stays light.
"""
