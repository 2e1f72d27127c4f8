"""Audit trail: one record per governed request (`record`) and the paged, public read side (`reader`)."""
