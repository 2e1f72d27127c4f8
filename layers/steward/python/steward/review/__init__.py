"""The human review queue behind the usage policy's ``flag`` rules.

A ``flag`` verdict lets the request through (or, with ``hold``, holds it) and puts one review item
per rule and backend call into the queue: the rule, tenant, model, time, request id, direction and
the texts it matched as the privacy policy left them, sealed under the stage's KMS key (envelope
encryption, bound to the tenant and the item) and kept for a retention period. Admins list, claim
and resolve items; a confirmed violation can revoke the key that made the request; an approved
held text is released for the tenant for a while (`service`).

- `model`: items, text marks (keyed MACs of the texts), states, ids and cursors.
- `ports`: the store (`steward.adapters.review_store` in DynamoDB; conditional writes).
- `service`: `ReviewService`, the usage policy's `~steward.usage_policy.ports.FlagSink` and the
  one implementation behind ``/admin/reviews`` and ``steward review``.
"""
