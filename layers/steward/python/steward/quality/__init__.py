"""Model quality monitoring: ground-truth metrics of classifiers and label-free input drift.

Pure Python so it runs in Lambda. Like `steward.fairness`, state is mergeable aggregate counters
with a JSON/DynamoDB form; no raw record is kept.
"""
