"""The privacy guardrail on the request path: one :class:`RequestPrivacy` per request.

The gateway opens one per backend call (tenant + model policy, one ``RedactionContext`` so a
placeholder means the same value across every text of the request), redacts every text the
backend would see, and filters and unmasks every text it answers. The pseudonym map lives in
this object only, i.e. in the request's memory; it is never logged, stored or returned.
Everything fails closed (``pii.detector_error``, ``pii.policy_unavailable``); a blocked type
refuses the request with the types only (``pii.blocked``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from steward.audit.record import AuditDraft
from steward.privacy.policies import PolicyBook

if TYPE_CHECKING:
    from steward.privacy import Encryptor, PrivacyPolicy, RedactionContext, RedactionResult
    from steward.privacy.detectors import Detector

HASH_KEY_LABEL = b"steward-pii-hash:"
BYTES = "BYTES"


def tenant_hash_key(pepper: bytes, tenant_id: str) -> bytes:
    """The tenant's key for the ``hash`` operator: HMAC(pepper, label + tenant).

    Derived, not stored: no new secret to manage, stable per tenant (joins across requests work),
    different across tenants (no cross-tenant linkage), and useless without the pepper.
    """
    return hmac.new(pepper, HASH_KEY_LABEL + tenant_id.encode(), hashlib.sha256).digest()


@dataclass
class PrivacyGuard:
    """Process-wide: where policies, keys, the encryptor and the deep detector come from."""

    policies: PolicyBook
    pepper: Callable[[], bytes] | None = None
    encryptor_for: Callable[[str], Encryptor] | None = None
    deep_detector: Detector | None = None
    _hash_keys: dict[str, bytes] = field(default_factory=dict, repr=False)

    def begin(self, tenant_id: str, model: str | None, draft: AuditDraft) -> RequestPrivacy:
        """The request's guard: resolves the policy now (fail closed) and labels the audit draft."""
        from steward.privacy import DetectorFailure, Operator, RedactionContext

        chosen = self.policies.in_force(tenant_id, model)
        policy = chosen.policy
        operators = {rule.operator for rule in policy.entities.values()}
        hmac_key = encryptor = None
        if Operator.HASH in operators:
            hmac_key = self._hash_key(tenant_id)
        if Operator.ENCRYPT in operators and self.encryptor_for is not None:
            try:
                encryptor = self.encryptor_for(tenant_id)
            except Exception:
                raise DetectorFailure("operator.encrypt") from None
        context = RedactionContext(
            tenant_id=tenant_id, hmac_key=hmac_key, encryptor=encryptor, deep_detector=self.deep_detector
        )
        draft.policy_version = chosen.label
        return RequestPrivacy(policy, context, draft)

    def _hash_key(self, tenant_id: str) -> bytes | None:
        """None when no pepper is configured: the engine then refuses hash rules (fail closed)."""
        if self.pepper is None:
            return None
        key = self._hash_keys.get(tenant_id)
        if key is None:
            try:
                pepper = self.pepper()
            except Exception:
                from steward.privacy import DetectorFailure

                raise DetectorFailure("operator.hash") from None
            key = self._hash_keys[tenant_id] = tenant_hash_key(pepper, tenant_id)
        return key


class RequestPrivacy:
    """Redacts what goes to the backend and filters what comes back, for one request."""

    __slots__ = ("context", "draft", "model_written", "policy")

    def __init__(self, policy: PrivacyPolicy, context: RedactionContext, draft: AuditDraft) -> None:
        self.policy = policy
        self.context = context
        self.draft = draft
        #: Placeholders minted for PII the model wrote: never restored, in any later text either.
        self.model_written: set[str] = set()

    # --- texts -------------------------------------------------------------------------------
    def redact_text(self, text: str) -> RedactionResult:
        from steward.privacy import redact

        return self._counted(redact(text, self.policy, self.context))

    def output_text(self, text: str) -> RedactionResult:
        """Output rules on what the model wrote, then only the caller's own values restored.

        An answer has many strings; the placeholder minted for PII the model wrote in one of them
        must not count as the caller's in the next (``process_output`` alone would restore it).
        """
        from steward.privacy import RedactionResult, redact, restore

        pseudonyms = self.context.pseudonyms
        callers = {k: v for k, v in pseudonyms.items() if k not in self.model_written}
        known = set(pseudonyms)
        result = redact(text, self.policy, self.context.for_output())
        self.model_written.update(k for k in pseudonyms if k not in known)
        final = restore(result.text, callers) if self.policy.restore_output else result.text
        return self._counted(RedactionResult(final, result.findings, pseudonyms, self.policy.version))

    def remask(self, text: str) -> str:
        """An answer's text with the caller's own values (restored by `output_text`) masked again
        by their placeholders: what the answer was before it was unmasked for the caller, the
        only form of it anything may keep (the review queue, `steward.review`). The longest value
        first, so a value inside another never splits it."""
        callers = [(name, value) for name, value in self.context.pseudonyms.items() if value]
        if not callers or not self.policy.restore_output:
            return text
        for name, value in sorted(callers, key=lambda pair: len(pair[1]), reverse=True):
            text = text.replace(value, f"<{name}>")
        return text

    # --- OIP payloads ------------------------------------------------------------------------
    def redact_request(self, payload: Mapping[str, Any], known_names: Collection[str] = ()) -> dict[str, Any]:
        """Every string value the backend would see: BYTES tensor elements, the ``parameters`` of
        the request, of each input and of each requested output, and ``id``.

        Parameter keys and tensor names the model does not declare (``known_names``) are never
        rewritten (the backend matches them as written), but they are caller-chosen identifiers,
        and an identifier can be a secret (an access key ID, a ``ghp_`` token): one in which the
        policy finds anything it would change refuses the request (400), naming no value.
        """
        self._check_identifiers(payload, known_names)
        redact_one: Callable[[str], str] = lambda s: self.redact_text(s).text  # noqa: E731
        out = dict(payload)
        for key in ("inputs", "outputs"):
            tensors = payload.get(key)
            if isinstance(tensors, list):
                out[key] = [_tensor(t, redact_one) for t in tensors]
        if "parameters" in payload:
            out["parameters"] = _strings(payload["parameters"], redact_one)
        if isinstance(payload.get("id"), str):
            out["id"] = redact_one(payload["id"])
        return out

    def _check_identifiers(self, payload: Mapping[str, Any], known_names: Collection[str]) -> None:
        from steward.errors import InvalidParameter, InvalidTensorName

        tensors = [
            t for key in ("inputs", "outputs") for t in _list(payload.get(key)) if isinstance(t, Mapping)
        ]
        for holder in (payload, *tensors):
            params = holder.get("parameters")
            if isinstance(params, Mapping) and any(self._changes(k) for k in params if isinstance(k, str)):
                raise InvalidParameter(
                    "A parameter key holds personal data or a secret: keys name settings, values carry data."
                )
        for tensor in tensors:
            name = tensor.get("name")
            if isinstance(name, str) and name not in known_names and self._changes(name):
                raise InvalidTensorName("A tensor name holds personal data or a secret.")

    def _changes(self, identifier: str) -> bool:
        """Whether the policy would rewrite ``identifier`` (counted in the audit like any finding)."""
        return self.redact_text(identifier).text != identifier

    def filter_response(self, result: Mapping[str, Any]) -> dict[str, Any]:
        """Output rules on every string the backend returned, then the caller's placeholders
        restored: tensor data of any datatype, output names, ``parameters`` (keys and values, at
        every level) and ``id``. Whatever a model writes, nothing reaches the caller unfiltered."""
        filter_one: Callable[[str], str] = lambda s: self.output_text(s).text  # noqa: E731
        return {key: _strings(value, filter_one, keys=True) for key, value in result.items()}

    def _counted(self, result: RedactionResult) -> RedactionResult:
        for entity_type, n in result.counts.items():
            self.draft.pii_counts[entity_type] = self.draft.pii_counts.get(entity_type, 0) + n
        return result


def _tensor(tensor: Any, fn: Callable[[str], str]) -> Any:
    """A request tensor: BYTES data and parameter values (other data is checked to hold no text)."""
    if not isinstance(tensor, Mapping):
        return tensor
    out = dict(tensor)
    if tensor.get("datatype") == BYTES and "data" in tensor:
        out["data"] = _strings(tensor["data"], fn)
    if "parameters" in tensor:
        out["parameters"] = _strings(tensor["parameters"], fn)
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# Leaves with no text: a list made only of these is returned as it is (embeddings stay cheap).
_NO_TEXT = frozenset({float, int, bool, type(None)})


def _strings(value: Any, fn: Callable[[str], str], *, keys: bool = False) -> Any:
    """Apply ``fn`` to every string leaf of a JSON value (lists and objects walked); with
    ``keys``, to object keys as well."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, Mapping):
        return {
            (fn(k) if keys and isinstance(k, str) else k): _strings(v, fn, keys=keys)
            for k, v in value.items()
        }
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        if _NO_TEXT.issuperset(map(type, value)):  # C-speed scan: ~1 ms per 50k floats
            return value
        return [_strings(v, fn, keys=keys) for v in value]
    return value
