"""Collection of Service Information: schemas, redaction, ingest and the simulator."""
