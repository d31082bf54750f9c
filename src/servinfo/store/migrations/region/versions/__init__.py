"""Migration scripts of the region database(s), oldest first."""
