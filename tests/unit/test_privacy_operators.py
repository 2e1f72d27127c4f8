"""Operators, policy application, reversible pseudonymisation and fail-closed behaviour."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

import pytest
from steward.privacy import (
    DetectionEngine,
    DetectionPath,
    DetectorFailure,
    Direction,
    EntityRule,
    Finding,
    Operator,
    PiiBlocked,
    PrivacyPolicy,
    RedactionContext,
    default_policy,
    process_output,
    redact,
    restore,
)
from steward.privacy.normalize import TextView
from steward.privacy.operators import decrypt_tokens, mask


class FakeEncryptor:
    """Stands in for the KMS data-key adapter: reversible, bound to the encryption context."""

    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        tag = "|".join(f"{k}={v}" for k, v in sorted(context.items())).encode()
        return tag + b"\x00" + bytes(b ^ 0x5A for b in plaintext)

    def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        tag, _, body = ciphertext.partition(b"\x00")
        assert tag == "|".join(f"{k}={v}" for k, v in sorted(context.items())).encode()
        return bytes(b ^ 0x5A for b in body)


class BrokenKms(FakeEncryptor):
    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        raise ConnectionError("kms down")


def policy_with(entity_type: str, rule: EntityRule) -> PrivacyPolicy:
    return PrivacyPolicy(version=3, tenant_id="t1", entities={entity_type: rule})


TEXT = "Mail jane.doe@example.com or call (212) 555-0187, card 4111 1111 1111 1111."


def test_placeholder_is_consistent_within_a_request_and_restores() -> None:
    # Given a text where one e-mail appears twice and another once
    ctx = RedactionContext(tenant_id="t1")
    text = "From a@example.com to b@example.com, cc a@example.com"
    # When it is redacted with the default policy
    result = redact(text, default_policy(), ctx)
    # Then the same value gets the same typed placeholder
    assert result.text == "From <EMAIL_ADDRESS_1> to <EMAIL_ADDRESS_2>, cc <EMAIL_ADDRESS_1>"
    # And the model's answer is restored for the caller
    answer = "Reply sent to <EMAIL_ADDRESS_2> and < EMAIL_ADDRESS_1 >."
    assert restore(answer, result.mapping) == "Reply sent to b@example.com and a@example.com."


def test_round_trip_over_the_whole_request() -> None:
    # Given a prompt with several entity types
    ctx = RedactionContext(tenant_id="t1")
    sent = redact(TEXT, default_policy(), ctx)
    assert "jane.doe" not in sent.text and "4111" not in sent.text and "555-0187" not in sent.text
    # When the model echoes the placeholders back
    out = process_output(sent.text, default_policy(), ctx)
    # Then the caller gets the original text back
    assert out.text == TEXT


def test_output_rules_redact_new_pii_but_not_our_placeholders() -> None:
    ctx = RedactionContext(tenant_id="t1")
    redact("Contact jane.doe@example.com", default_policy(), ctx)
    # Given a model answer that leaks a new e-mail and echoes our placeholder
    out = process_output("Ask <EMAIL_ADDRESS_1> or leak@example.org", default_policy(), ctx)
    # Then the leaked value is pseudonymised, ours is restored, and the new one restored too
    # (restore_output=True gives the caller their own request's values, nothing else)
    assert out.text.startswith("Ask jane.doe@example.com or ")
    assert [f.entity_type for f in out.findings] == ["EMAIL_ADDRESS"]


def test_caller_typed_placeholders_are_not_reused() -> None:
    ctx = RedactionContext(tenant_id="t1")
    result = redact("literal <EMAIL_ADDRESS_1> and x@example.com", default_policy(), ctx)
    assert result.text == "literal <EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>"
    assert restore("<EMAIL_ADDRESS_1>", result.mapping) == "<EMAIL_ADDRESS_1>"


def test_redact_operator_is_irreversible() -> None:
    result = redact(
        TEXT, policy_with("EMAIL_ADDRESS", EntityRule(operator=Operator.REDACT)), RedactionContext("t1")
    )
    assert "<EMAIL_ADDRESS>" in result.text and len(result.mapping) == 0


def test_mask_keeps_last_digits_and_shape() -> None:
    rule = EntityRule(operator=Operator.MASK, mask_keep_last=4)
    result = redact(TEXT, policy_with("CREDIT_CARD", rule), RedactionContext("t1"))
    assert "card **** **** **** 1111." in result.text
    assert mask("jane@example.com", 3, "#") == "####@#######.com"


def test_keyed_hash_is_per_tenant_and_stable() -> None:
    rule = EntityRule(operator=Operator.HASH)
    policy = policy_with("EMAIL_ADDRESS", rule)
    a1 = redact(TEXT, policy, RedactionContext("t1", hmac_key=b"k1")).text
    a2 = redact(TEXT, policy, RedactionContext("t1", hmac_key=b"k1")).text
    b = redact(TEXT, policy, RedactionContext("t2", hmac_key=b"k2")).text
    digest = hmac.new(b"k1", b"EMAIL_ADDRESS\x1fjane.doe@example.com", hashlib.sha256).hexdigest()[:16]
    assert a1 == a2 and f"<EMAIL_ADDRESS#{digest}>" in a1
    assert a1 != b


def test_hash_without_tenant_key_fails_closed() -> None:
    with pytest.raises(DetectorFailure) as err:
        redact(TEXT, policy_with("EMAIL_ADDRESS", EntityRule(operator=Operator.HASH)), RedactionContext("t1"))
    assert err.value.code == "pii.detector_error"


def test_encrypt_uses_the_port_and_decrypts_back() -> None:
    enc = FakeEncryptor()
    policy = policy_with("EMAIL_ADDRESS", EntityRule(operator=Operator.ENCRYPT))
    result = redact(TEXT, policy, RedactionContext("t1", encryptor=enc))
    assert "jane.doe" not in result.text and "<ENC:EMAIL_ADDRESS:" in result.text
    assert decrypt_tokens(result.text, enc, "t1") == TEXT


def test_encrypt_with_failing_key_service_fails_closed() -> None:
    policy = policy_with("EMAIL_ADDRESS", EntityRule(operator=Operator.ENCRYPT))
    with pytest.raises(DetectorFailure):
        redact(TEXT, policy, RedactionContext("t1", encryptor=BrokenKms()))


def test_block_refuses_with_types_never_values() -> None:
    policy = PrivacyPolicy(
        entities={"CREDIT_CARD": EntityRule(operator=Operator.BLOCK), "EMAIL_ADDRESS": EntityRule()}
    )
    with pytest.raises(PiiBlocked) as err:
        redact(TEXT, policy, RedactionContext("t1"))
    assert err.value.code == "pii.blocked" and err.value.status == 400
    assert err.value.entity_types == ("CREDIT_CARD",)
    assert "4111" not in str(err.value) and "4111" not in repr(err.value.problem_extra())


def test_direction_limits_where_a_rule_applies() -> None:
    policy = policy_with("EMAIL_ADDRESS", EntityRule(apply_to=frozenset({Direction.OUTPUT})))
    assert redact(TEXT, policy, RedactionContext("t1")).text == TEXT
    out = redact(TEXT, policy, RedactionContext("t1", direction=Direction.OUTPUT))
    assert "<EMAIL_ADDRESS_1>" in out.text


def test_per_type_threshold() -> None:
    text = "Bob said hi"  # a lone first name scores low on the fast path
    loose = policy_with("PERSON", EntityRule(threshold=0.0))
    strict = policy_with("PERSON", EntityRule(threshold=0.99))
    assert redact(text, strict, RedactionContext("t1")).text == text
    assert redact("Hi, I spoke with Maria Lopez", loose, RedactionContext("t1")).text.endswith("<PERSON_1>")


class ExplodingDetector:
    name = "exploding"
    entity_types = frozenset({"EMAIL_ADDRESS"})

    def detect(self, view: TextView) -> list[Finding]:
        raise RuntimeError("regex engine out of memory while reading " + view.text)


def test_detector_error_fails_closed_without_leaking_input() -> None:
    # Given an engine whose detector raises
    ctx = RedactionContext("t1", engine=DetectionEngine([ExplodingDetector()]))
    # When a request is redacted  Then it is refused with pii.detector_error, never passed through
    with pytest.raises(DetectorFailure) as err:
        redact(TEXT, default_policy(), ctx)
    assert err.value.code == "pii.detector_error" and err.value.status == 503
    assert "jane" not in str(err.value)


def test_deep_path_without_backend_detector_fails_closed() -> None:
    policy = default_policy().model_copy(update={"detection_path": DetectionPath.DEEP})
    with pytest.raises(DetectorFailure):
        redact("Hi, I am John Smith", policy, RedactionContext("t1"))


def test_deep_path_uses_the_backend_detector_for_names() -> None:
    class FakeNer:
        name = "backend_ner"
        entity_types = frozenset({"PERSON", "LOCATION", "STREET_ADDRESS"})

        def detect(self, view: TextView) -> list[Finding]:
            i = view.text.index("Zorblax")
            return [Finding("PERSON", i, i + 7, 0.99, self.name)]

    policy = default_policy().model_copy(update={"detection_path": DetectionPath.DEEP})
    result = redact(
        "Ask Zorblax, mail z@example.com", policy, RedactionContext("t1", deep_detector=FakeNer())
    )
    assert result.text == "Ask <PERSON_1>, mail <EMAIL_ADDRESS_1>"


def test_pseudonym_map_repr_hides_values() -> None:
    result = redact(TEXT, default_policy(), RedactionContext("t1"))
    assert "jane" not in repr(result.mapping) and "jane" not in str(result)
    assert result.counts == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1, "CREDIT_CARD": 1}
