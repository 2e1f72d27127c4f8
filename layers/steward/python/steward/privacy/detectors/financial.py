"""CREDIT_CARD (IIN ranges + Luhn), IBAN_CODE (registry length + mod 97), CRYPTO (checksummed)."""

from __future__ import annotations

import re

from steward.privacy._regex import Pattern
from steward.privacy.detectors.base import bounded, finding, has_cue
from steward.privacy.findings import Finding
from steward.privacy.normalize import TextView
from steward.privacy.validators import IBAN_LENGTHS, base58check_ok, bech32_ok, credit_card_ok, iban_ok

# Up to 19 digits, single separators or short runs of them ('4111 - 1111 ...', spaced digits,
# '4111/1111/...', '4111_1111_...', a number wrapped onto a second line).
_CARD = r"\d(?:[ \-./_\t\r\n]{0,3}\d){12,18}"
_SEPARATORS = b" -./_\t\r\n"
# Separators people rarely type inside a card number: a window holding one needs a card cue
# or a card's grouping (a column of 4-digit numbers or 'a/b/c/d' is not a card by default).
_WEAK = b"/_\t"
# Group lengths of printed card numbers (ISO/IEC 7812 layouts of the major networks).
_LAYOUTS = frozenset({(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4), (4, 4, 4, 3)})

# Splits one bounded candidate (<= 19 digits) into digit groups: a single character class, linear.
_DIGIT_RUN = re.compile(rb"[0-9]+")
_IBAN = r"\b[A-Za-z]{2}\d{2}(?:[ \-]?[A-Za-z0-9]){11,34}"
_CRYPTO = (
    r"\b(?:([13][a-km-zA-HJ-NP-Z1-9]{25,34})|((?:bc1|BC1|tb1|TB1)[ac-hj-np-z02-9AC-HJ-NP-Z]{11,71})"
    r"|(0x[0-9a-fA-F]{40}))\b"
)
_CARD_CUES = (b"card", b"visa", b"mastercard", b"amex", b"cc", b"credit", b"debit", b"pan")
_ETH_CUES = (b"eth", b"wallet", b"address", b"send", b"crypto")


_CARD_RUN = re.compile(rb"[0-9 .\-/_\t\r\n]*")


def _starts_with_four(data: bytes, s: int) -> bool:
    return data[s : s + 4].isdigit()


def _groups(data: bytes, s: int, e: int) -> list[tuple[int, int]]:
    return [m.span() for m in _DIGIT_RUN.finditer(data, s, e)]


def _plain_layout(raw: bytes) -> bool:
    """True for a card as people write it: separators ' ', '-', '.' in any grouping, at most one
    line break (a wrapped number, joined before the check), and '/', '_' or a tab only between
    the groups of a card layout. Anything else needs a card cue."""
    unified = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if unified.count(b"\n") > 1:
        return False
    if not any(ch in _WEAK for ch in unified):
        return True
    joined = re.sub(rb"[ \t/_]*\n[ \t/_]*", b"", unified) if b"\n" in unified else unified
    return (
        tuple(len(g) for g in _DIGIT_RUN.findall(joined)) in _LAYOUTS
        or tuple(len(g) for g in _DIGIT_RUN.findall(unified)) in _LAYOUTS
    )


class FinancialDetector:
    name = "financial"
    entity_types = frozenset({"CREDIT_CARD", "IBAN_CODE", "CRYPTO"})

    def __init__(self) -> None:
        self._card = Pattern(_CARD)
        self._iban = Pattern(_IBAN)
        self._crypto_re = Pattern(_CRYPTO)

    def detect(self, view: TextView) -> list[Finding]:
        out: list[Finding] = []
        digits = view.digit_count
        if digits >= 13:
            self._cards(view, out)
        if digits >= 4:
            self._ibans(view, out)
        if len(view.data) >= 26:
            self._crypto(view, out)
        return out

    def _cards(self, view: TextView, out: list[Finding]) -> None:
        data = view.data
        pos, end = 0, len(data)
        while pos < end:
            spans = self._card.search(data, pos)
            if spans is None:
                return
            s, e = spans[0]
            if (
                s >= 2
                and data[s - 1] in _SEPARATORS
                and data[s - 2] in b"0123456789"
                and not _starts_with_four(data, s)
            ):
                # Continuation of a longer run of short digit groups: a card can't start here.
                pos = max(_CARD_RUN.match(data, s).end(), s + 1)  # type: ignore[union-attr]
                continue
            hit = self._best_window(data, s, e)
            if hit is not None:
                hs, he = hit
                cue = has_cue(data, hs, _CARD_CUES)
                if not (cue or _plain_layout(data[hs:he])):
                    pos = he
                    continue
                score = 1.0 if cue else 0.95
                out.append(finding(view, "CREDIT_CARD", hs, he, score, self.name))
                pos = he
                continue
            # Retry from the next run of 4+ digits inside the candidate (a card after '12 34 ...').
            pos = e
            for gs, ge in _groups(data, s, e)[1:]:
                if ge - gs >= 4:
                    pos = gs
                    break

    @staticmethod
    def _best_window(data: bytes, s: int, e: int) -> tuple[int, int] | None:
        """The card inside a candidate run: the whole run, or the run without short stray groups
        at either end ('ref 12 4111 1111 1111 1111', '4111 1111 1111 1111 12/25'). At most a few
        checks per candidate, so long runs of digits stay linear."""
        if s > 0 and data[s - 1] in b"0123456789":
            return None
        groups = _groups(data, s, e)
        starts = [0] + [i for i in (1, 2) if i < len(groups) and groups[i][1] - groups[i][0] >= 4]
        for i in starts:
            for j in range(len(groups) - 1, max(i, len(groups) - 3) - 1, -1):
                if j < len(groups) - 1 and groups[j + 1][1] - groups[j + 1][0] >= 4:
                    break  # only short trailing groups are dropped
                gs, ge = groups[i][0], groups[j][1]
                if ge < len(data) and data[ge] in b"0123456789":
                    continue
                digits = data[gs:ge].translate(None, _SEPARATORS).decode()
                if len(digits) < 13:
                    break
                if data[gs] in b"23456" and credit_card_ok(digits):
                    return gs, ge
        return None

    def _ibans(self, view: TextView, out: list[Finding]) -> None:
        data = view.data
        for spans in self._iban.finditer(data):
            s, e = spans[0]
            country = data[s : s + 2].upper().decode()
            length = IBAN_LENGTHS.get(country)
            if length is None:
                continue
            chars: list[int] = []
            positions: list[int] = []
            for i in range(s, e):
                if data[i] not in b" -":
                    chars.append(data[i])
                    positions.append(i)
                    if len(chars) == length:
                        break
            if len(chars) != length:
                continue
            he = positions[-1] + 1
            if (
                he < len(data)
                and data[he] in b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
            ):
                continue
            if iban_ok(bytes(chars).decode()):
                out.append(finding(view, "IBAN_CODE", s, he, 1.0, self.name))

    def _crypto(self, view: TextView, out: list[Finding]) -> None:
        data = view.data
        for g in self._crypto_re.finditer(data):
            s, e = g[0]
            value = data[s:e].decode()
            if g[1][0] != -1:
                ok, score = base58check_ok(value), 1.0
            elif g[2][0] != -1:
                ok, score = bech32_ok(value), 1.0
            else:
                ok, score = bounded(data, s, e), (0.85 if has_cue(data, s, _ETH_CUES) else 0.5)
            if ok:
                out.append(finding(view, "CRYPTO", s, e, score, self.name))
