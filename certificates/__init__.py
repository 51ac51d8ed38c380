"""mechproof certificates (untrusted)."""
