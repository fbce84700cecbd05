"""Cross-system models and their maths (no data loading, no experiments, no CLI).

- `templates`: the vocabulary over (dataset, template id) they share, and id-only vectors;
- MetaLog: `metalog` (the detector), `metalog_training` (MLDG and the trainer),
  `metalog_pseudo_labels` (HDBSCAN pseudo-labels);
- MLAD: `mlad` (the detector), `mlad_network` (alpha-entmax Transformer), `mlad_mixture`
  (the Gaussian mixture in log space);
- CroSysLog: `crosyslog` (configuration, LSTM tagger, MAML, adaptation).

Loading systems is `logad.pipeline.systems`; the experiments and their baselines are
`logad.experiments`.
"""
