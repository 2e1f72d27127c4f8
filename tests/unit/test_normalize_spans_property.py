"""Property: an obfuscated e-mail address, whatever mix of encodings hides it, is found, and its
span cut from the caller's original text removes the whole value (every encoded sequence, every
look-alike letter; at most an invisible character at either edge stays, which carries nothing).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from steward.privacy import RedactionContext, default_policy, detect, redact

# Look-alikes of lowercase ASCII letters (Cyrillic, Greek, Armenian), one per letter where there is one.
LOOKALIKES = {
    "a": "\u0430", "c": "\u0441", "e": "\u0435", "o": "\u043e", "p": "\u0440", "x": "\u0445",
    "y": "\u0443", "s": "\u0455", "i": "\u0456", "j": "\u0458", "h": "\u04bb", "k": "\u03ba",
    "v": "\u03bd", "u": "\u03c5", "n": "\u0578", "g": "\u0581", "q": "\u0566", "d": "\u0501",
}  # fmt: skip
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
AT = ["@", "%40", "&#64;", "&#x40;", "&commat;", "\uff20", "\ufe6b"]
DOT = [".", "%2E", "%2e", "&#46;", "&period;", "\uff0e"]


def _letter_forms(c: str) -> list[str]:
    forms = [c, f"&#{ord(c)};", f"&#x{ord(c):x};", f"%{ord(c):02X}", chr(0xFF41 + ord(c) - ord("a"))]
    forms.append(chr(0x1D41A + ord(c) - ord("a")))  # mathematical bold small letter
    if c in LOOKALIKES:
        forms.append(LOOKALIKES[c])
    return forms


def _unit(c: str) -> st.SearchStrategy[str]:
    if c == "@":
        return st.sampled_from(AT)
    if c == ".":
        return st.sampled_from(DOT)
    return st.sampled_from(_letter_forms(c))


word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)


@st.composite
def obfuscated_emails(draw: st.DrawFn) -> tuple[str, str]:
    """(the plain address, the same address as the caller hid it)."""
    local = draw(word) + draw(st.sampled_from(["", "." + draw(word)]))
    plain = f"{local}@{draw(word)}.{draw(st.sampled_from(['com', 'org', 'net']))}"
    pieces = []
    for c in plain:
        if draw(st.integers(0, 4)) == 0:
            pieces.append(draw(st.sampled_from(INVISIBLE)))
        pieces.append(draw(_unit(c)))
    return plain, "".join(pieces)


def _only_invisible(text: str) -> bool:
    return all(c in INVISIBLE for c in text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obfuscated_emails(), st.sampled_from([("mail ", " now"), ("write to ", ", thanks"), ("", "")]))
def test_every_span_cut_from_the_original_removes_the_whole_encoded_value(
    email: tuple[str, str], context: tuple[str, str]
) -> None:
    _plain, hidden = email
    before, after = context
    text = before + hidden + after
    lo, hi = len(before), len(before) + len(hidden)
    hits = [f for f in detect(text) if f.entity_type == "EMAIL_ADDRESS"]
    assert hits, ascii(text)
    for f in hits:  # a span never reaches into the text around the value
        assert lo <= f.start < f.end <= hi, (ascii(text), f)
    start, end = min(f.start for f in hits), max(f.end for f in hits)
    assert _only_invisible(text[lo:start]) and _only_invisible(text[end:hi]), (ascii(text), start, end)
    # And redaction leaves the text around the value as it was, and nothing of the value
    redacted = redact(text, default_policy(), RedactionContext(tenant_id="t1")).text
    assert redacted.startswith(before) and redacted.endswith(after), ascii(redacted)
    middle = redacted[len(before) : len(redacted) - len(after)]
    stripped = "".join(c for c in middle if c not in INVISIBLE)
    assert stripped == "<EMAIL_ADDRESS_1>", (ascii(text), ascii(redacted))
