"""Development tools: the local stack, benchmarks, evaluations. Never shipped to AWS."""
