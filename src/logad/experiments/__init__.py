"""Cross-system experiments and their baselines: the standard transfer setup (`transfer`) and,
per method, the harness that trains the method's model (from `logad.detectors.crosssystem`) and
its baselines on loaded systems (`logad.pipeline.systems`) and reports their figures."""
