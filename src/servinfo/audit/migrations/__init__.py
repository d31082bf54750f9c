"""The audit log's Alembic branch (label ``audit``) of the control database.

Passed to :func:`servinfo.store.migrations.migrate_control` as an extra
version location (:data:`servinfo.audit.AUDIT_MIGRATIONS`); its first revision
depends on the control tree's initial one.
"""
