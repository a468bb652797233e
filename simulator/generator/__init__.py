"""Deterministic, realistic telecom source data with planted defects and a ground-truth manifest.

``python -m simulator.generator --scale 0.01`` writes CRM and BSS tables into PostgreSQL and
network KPI CSVs and app-log gzip JSON lines into the landing zone; see ``cli.py``.
"""
