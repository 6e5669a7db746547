"""Clause review: the CUAD categories, the passages each is looked for in, the findings and their values."""
