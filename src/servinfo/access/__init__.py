"""Access: decisions, enforcement and transfers; every read of Service Information passes here."""
