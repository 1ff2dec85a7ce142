"""Packaged experiments: each trains and evaluates what it needs and writes a run folder with a report."""
