"""Migration scripts of the control database(s), oldest first."""
