"""The entity types Steward detects. PII names follow Presidio; secrets are Steward's own."""

from __future__ import annotations

PII_TYPES: frozenset[str] = frozenset(
    {
        "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS", "URL",
        "MAC_ADDRESS", "CRYPTO", "DATE_TIME", "US_DRIVER_LICENSE", "US_PASSPORT", "PERSON", "LOCATION",
        "STREET_ADDRESS",
    }
)  # fmt: skip
SECRET_TYPES: frozenset[str] = frozenset(
    {"CLOUD_ACCESS_KEY", "CLOUD_SECRET_KEY", "API_TOKEN", "PRIVATE_KEY", "JWT", "BEARER_TOKEN", "PASSWORD"}
)
# Found by context-free patterns with validation (checksums, ranges): the F2 >= 0.98 family.
STRUCTURED_TYPES: frozenset[str] = frozenset(
    {
        "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS", "URL",
        "MAC_ADDRESS", "CRYPTO", "DATE_TIME", "US_DRIVER_LICENSE", "US_PASSPORT",
    }
)  # fmt: skip
# Names and places: fast path (lists + cues) in the Lambda, deep path (NER model) on the backend.
NER_TYPES: frozenset[str] = frozenset({"PERSON", "LOCATION", "STREET_ADDRESS"})
ENTITY_TYPES: frozenset[str] = PII_TYPES | SECRET_TYPES
