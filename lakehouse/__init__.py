"""Entry points on top of every layer: the main run command, reconciliation and reports."""
