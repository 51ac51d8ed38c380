"""mechproof generators (untrusted)."""
