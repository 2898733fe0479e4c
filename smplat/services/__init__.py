"""Domain services: the rules, in plain Python (no Reflex imports)."""
