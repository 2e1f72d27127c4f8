"""Detection and redaction: the one entry point the gateway calls on every path.

Fail closed: any exception inside a detector, a missing deep-path detector, or an operator that
can't run (no key, key service down) raises :class:`DetectorFailure` and the request is refused.
Nothing here logs or returns a detected value except through the request's :class:`Pseudonyms`.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from steward.privacy.detectors import Detector, fast_path_detectors
from steward.privacy.entities import ENTITY_TYPES, NER_TYPES
from steward.privacy.errors import DetectorFailure, PiiBlocked
from steward.privacy.findings import Finding, resolve_overlaps
from steward.privacy.normalize import TextView, normalize
from steward.privacy.operators import PLACEHOLDER_RE, Encryptor, Pseudonyms, apply_operator
from steward.privacy.operators import restore as _restore
from steward.privacy.policy import (
    DEFAULT_THRESHOLD,
    DetectionPath,
    Direction,
    Operator,
    PrivacyPolicy,
)

log = logging.getLogger("steward.privacy")


class DetectionEngine:
    """Runs a set of detectors over one normalised view and settles overlaps."""

    def __init__(self, detectors: Sequence[Detector] | None = None) -> None:
        self.detectors: list[Detector] = list(detectors) if detectors is not None else fast_path_detectors()

    def detect(
        self,
        text: str,
        *,
        entity_types: Collection[str] | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        thresholds: dict[str, float] | None = None,
        deep: Detector | None = None,
        path: DetectionPath = DetectionPath.FAST,
    ) -> list[Finding]:
        if not isinstance(text, str):
            raise DetectorFailure("input.not_text")
        if not text:
            return []
        wanted = frozenset(entity_types) if entity_types is not None else ENTITY_TYPES
        try:
            view = normalize(text)
        except Exception as exc:
            log.error("privacy normaliser failed", extra={"error_type": type(exc).__name__})
            raise DetectorFailure("normalize") from exc
        detectors: list[Detector] = list(self.detectors)
        if path is DetectionPath.DEEP and wanted & NER_TYPES:
            if deep is None:
                raise DetectorFailure("deep_path.unavailable")
            detectors = [d for d in detectors if not d.entity_types <= NER_TYPES] + [deep]
        found: list[Finding] = []
        for det in detectors:
            if not det.entity_types & wanted:
                continue
            found.extend(_run(det, view))
        limits = thresholds or {}
        kept = [
            f
            for f in found
            if f.entity_type in wanted
            and f.score >= limits.get(f.entity_type, threshold)
            and f.end <= len(text)
        ]
        if deep is not None and path is DetectionPath.DEEP:
            kept = _patterns_first(kept, deep.name)
        return resolve_overlaps(kept)


def _patterns_first(findings: list[Finding], deep_name: str) -> list[Finding]:
    """Drop model findings that overlap a pattern finding: the patterns check formats and
    checksums, while the model's probabilities are not on their score scale (a name it sees
    inside an e-mail address or URL must not displace the validated finding)."""
    patterns = sorted((f for f in findings if f.detector != deep_name), key=lambda f: f.start)
    starts = [f.start for f in patterns]
    reach: list[int] = []  # running max of ends, so one bisect answers "does anything overlap"
    for f in patterns:
        reach.append(max(f.end, reach[-1]) if reach else f.end)
    kept = []
    for f in findings:
        if f.detector == deep_name:
            i = bisect.bisect_left(starts, f.end) - 1  # last pattern starting before f ends
            if i >= 0 and reach[i] > f.start:
                continue
        kept.append(f)
    return kept


def _run(det: Detector, view: TextView) -> list[Finding]:
    try:
        return list(det.detect(view))
    except DetectorFailure:
        raise
    except Exception as exc:
        # The type of the error only: its message could quote the input.
        log.error("privacy detector failed", extra={"detector": det.name, "error_type": type(exc).__name__})
        raise DetectorFailure(det.name) from exc


_engine: DetectionEngine | None = None
_engine_lock = threading.Lock()


def default_engine() -> DetectionEngine:
    """The process-wide fast-path engine (built on first use; call at cold start to warm it)."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = DetectionEngine()
    return _engine


def detect(
    text: str,
    *,
    entity_types: Collection[str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Finding]:
    """Every entity found in ``text`` by the fast path, non-overlapping, sorted by start."""
    return default_engine().detect(text, entity_types=entity_types, threshold=threshold)


@dataclass
class RedactionContext:
    """Per-request state: who is asking, which direction, and the request's pseudonym map.

    Use one context (hence one :class:`Pseudonyms`) for every text of a request, input and output,
    so ``<PERSON_1>`` means the same person throughout and can be restored in the answer.
    """

    tenant_id: str
    direction: Direction = Direction.INPUT
    pseudonyms: Pseudonyms = field(default_factory=Pseudonyms)
    hmac_key: bytes | None = None
    encryptor: Encryptor | None = None
    deep_detector: Detector | None = None
    engine: DetectionEngine | None = None

    def for_output(self) -> RedactionContext:
        """The same request's context, for the model's answer."""
        return RedactionContext(
            tenant_id=self.tenant_id,
            direction=Direction.OUTPUT,
            pseudonyms=self.pseudonyms,
            hmac_key=self.hmac_key,
            encryptor=self.encryptor,
            deep_detector=self.deep_detector,
            engine=self.engine,
        )


@dataclass(frozen=True)
class RedactionResult:
    """The text to send on, the findings (types and spans in the *input* text only) and the map."""

    text: str
    findings: tuple[Finding, ...]
    mapping: Pseudonyms
    policy_version: int

    @property
    def counts(self) -> dict[str, int]:
        """PII counts by type, for the audit record."""
        return dict(Counter(f.entity_type for f in self.findings))


def redact(text: str, policy: PrivacyPolicy, context: RedactionContext) -> RedactionResult:
    """Apply ``policy`` to ``text`` for ``context.direction``.

    Raises :class:`PiiBlocked` when a finding's rule is BLOCK (types only in the error) and
    :class:`DetectorFailure` when any detector or operator can't run.
    """
    direction = context.direction
    wanted = policy.types_for(direction)
    if not wanted:
        return RedactionResult(text, (), context.pseudonyms, policy.version)
    engine = context.engine or default_engine()
    thresholds = {t: policy.threshold_for(t) for t in wanted}
    findings = engine.detect(
        text,
        entity_types=wanted,
        threshold=policy.threshold,
        thresholds=thresholds,
        deep=context.deep_detector,
        path=policy.detection_path,
    )
    if direction is Direction.OUTPUT and context.pseudonyms:
        findings = _outside_placeholders(text, findings, context.pseudonyms)
    blocked = {
        f.entity_type
        for f in findings
        if (rule := policy.rule_for(f.entity_type, direction)) is not None and rule.operator is Operator.BLOCK
    }
    if blocked:
        raise PiiBlocked(blocked)
    if direction is Direction.INPUT:
        context.pseudonyms.reserve_existing(text)
    pieces: list[str] = []
    last = 0
    for f in findings:
        rule = policy.rule_for(f.entity_type, direction)
        if rule is None:
            continue
        pieces.append(text[last : f.start])
        pieces.append(
            apply_operator(
                rule,
                f.entity_type,
                text[f.start : f.end],
                pseudonyms=context.pseudonyms,
                tenant_id=context.tenant_id,
                hmac_key=context.hmac_key,
                encryptor=context.encryptor,
            )
        )
        last = f.end
    pieces.append(text[last:])
    return RedactionResult("".join(pieces), tuple(findings), context.pseudonyms, policy.version)


def _outside_placeholders(text: str, findings: list[Finding], pseudonyms: Pseudonyms) -> list[Finding]:
    """On the way out, our own placeholders are not new personal data."""
    spans = [(m.start(), m.end()) for m in PLACEHOLDER_RE.finditer(text) if m.group(1) in pseudonyms]
    if not spans:
        return findings
    return [f for f in findings if not any(f.start < e and s < f.end for s, e in spans)]


def restore(text: str, mapping: Pseudonyms | dict[str, str]) -> str:
    """Unmask a model's output for the caller: every ``<TYPE_N>`` of this request gets its value back."""
    return _restore(text, mapping)


def process_output(text: str, policy: PrivacyPolicy, context: RedactionContext) -> RedactionResult:
    """The answer path: apply the output rules to what the model wrote, then restore placeholders."""
    out_ctx = context if context.direction is Direction.OUTPUT else context.for_output()
    # Only the caller's own values come back: placeholders minted for PII the model wrote
    # itself (this pass) stay placeholders.
    callers = dict(context.pseudonyms)
    result = redact(text, policy, out_ctx)
    final = restore(result.text, callers) if policy.restore_output else result.text
    return RedactionResult(final, result.findings, context.pseudonyms, policy.version)
