"""Deliverables: the output folder, dataset writers by format, run reports."""
