"""Cross-system detectors (MetaLog, MLAD, CroSysLog) and the multi-system data they share."""
