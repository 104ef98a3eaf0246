"""Analyses above the pipeline: therapy head-to-head comparison and risk tables, and the
injury model's check against literature targets (kept as data in ``targets/``)."""
