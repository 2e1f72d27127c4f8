"""Audit trail: one record per governed request (`record`), chained per tenant so edits,
insertions and deletions show (`chain`), read back page by page (`reader`) or whole for export
and verification (`trail`)."""
