"""The only place Steward talks to AWS. Every adapter takes an optional client for tests."""
