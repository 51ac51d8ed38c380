"""Proof search heuristics shared by the strategies (untrusted, uncounted: results are hints)."""
