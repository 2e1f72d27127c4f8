"""Calling model backends: transports (HTTP, SageMaker), deadlines, retries, circuit breaking."""
