"""Usage policy: per tenant and model, versioned rules on what may be asked of a model and what
it may answer (word lists, RE2 patterns, denied topics), each ``block`` or ``flag`` (a ``flag``
goes to the human review queue, `steward.review`; with ``hold`` the request waits for a reviewer).

- `document`: the policy document and its validation (422 when invalid or too costly).
- `words`, `patterns`: the local checks (obfuscation-aware word lists, RE2 patterns).
- `compiled`: a version ready to check (`Verdict`); `book`: versions, cache, the store port's use.
- `engine`: `UsageGuard` / `RequestUsage`, the check on the inference path (fail closed).
- `service`: `GuardrailService` (``POST /v1/guardrails/apply``).
- `ports`: the store, the denied-topic check (`topics.TopicChecker` over `topic_embedder`), the
  flag sink (`Flagged`, `FlagOutcome`); `errors`: the refusals (``HeldForReview`` too).
"""
