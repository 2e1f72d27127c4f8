"""The model catalog: the registry (what may serve, and where), model cards and the approval rules."""
