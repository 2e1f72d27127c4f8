"""CREDIT_CARD (each brand's IIN ranges and lengths, 12-19 digits, + Luhn), IBAN_CODE (registry
length + mod 97), CRYPTO (checksummed)."""

from __future__ import annotations

import re

from steward.privacy._regex import Pattern
from steward.privacy.detectors.base import bounded, finding, has_cue
from steward.privacy.detectors.context import Cues
from steward.privacy.findings import Finding
from steward.privacy.normalize import TextView
from steward.privacy.validators import (
    IBAN_LENGTHS,
    MAESTRO_IINS,
    base58check_ok,
    bech32_ok,
    credit_card_ok,
    iban_ok,
)

# A run of 12+ digits in groups joined by single separators or short runs of them ('4111 - 1111 ...',
# spaced digits, '4111/1111/...', '4111_1111_...', a number wrapped onto a second line).
_CARD_RUN = r"\d(?:[ \-./_\t\r\n]{0,3}\d){11,}"
_SEPARATORS = b" -./_\t\r\n"
# Separators people rarely type inside a card number: a window holding one needs a card cue
# or a card's grouping (a column of 4-digit numbers or 'a/b/c/d' is not a card by default).
_WEAK = b"/_\t"
_UNUSUAL = (b"/", b"_", b"\t", b"\n", b"\r")
# Group lengths of printed card numbers (ISO/IEC 7812 layouts of the major networks).
_LAYOUTS = frozenset(
    {(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4), (4, 4, 4, 3), (4, 4, 4), (4, 4, 4, 4, 2)}
)
# First digits of every brand's IINs (see :func:`~steward.privacy.validators.card_brand`).
_FIRST_DIGITS = b"12345689"

# Splits a run into digit groups: a single character class, linear.
_DIGIT_RUN = re.compile(rb"[0-9]+")
_IBAN = r"\b[A-Za-z]{2}\d{2}(?:[ \-]?[A-Za-z0-9]){11,34}"
_CRYPTO = (
    r"\b(?:([13][a-km-zA-HJ-NP-Z1-9]{25,34})|((?:bc1|BC1|tb1|TB1)[ac-hj-np-z02-9AC-HJ-NP-Z]{11,71})"
    r"|(0x[0-9a-fA-F]{40}))\b"
)
_CARD_CONTEXT = Cues(
    "card*, visa, mastercard, amex, american express, discover, jcb, maestro, diners*, unionpay,"
    " union pay, cc, credit, debit, pan, payment*, pay with, paid with, charge*"
)
_ETH_CUES = (b"eth", b"wallet", b"address", b"send", b"crypto")

# Luhn's doubled digit (2d, minus 9 above 9), as ASCII, so a checksum is two C-level sums.
_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")


def _luhn(digits: bytes) -> bool:
    """Luhn over ASCII digits: a cheap filter before the full card check."""
    total = sum(digits[-1::-2]) + sum(digits[-2::-2].translate(_DOUBLED)) - 48 * len(digits)
    return total % 10 == 0


def _groups(data: bytes, s: int, e: int) -> list[tuple[int, int]]:
    return [m.span() for m in _DIGIT_RUN.finditer(data, s, e)]


def _plain_layout(raw: bytes) -> bool:
    """True for a card as people write it: separators ' ', '-', '.' in any grouping, at most one
    line break (a wrapped number, joined before the check), and '/', '_' or a tab only between
    the groups of a card layout. Anything else needs a card cue."""
    if not any(ch in raw for ch in _UNUSUAL):
        return True
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
        self._card_run = Pattern(_CARD_RUN)
        self._iban = Pattern(_IBAN)
        self._crypto_re = Pattern(_CRYPTO)

    def detect(self, view: TextView) -> list[Finding]:
        out: list[Finding] = []
        digits = view.digit_count
        if digits >= 12:
            self._cards(view, out)
        if digits >= 4:
            self._ibans(view, out)
        if len(view.data) >= 26:
            self._crypto(view, out)
        return out

    def _cards(self, view: TextView, out: list[Finding]) -> None:
        data = view.data
        for spans in self._card_run.finditer(data):
            self._cards_in_run(view, data, spans[0][0], spans[0][1], out)

    def _cards_in_run(self, view: TextView, data: bytes, s: int, e: int, out: list[Finding]) -> None:
        """Cards inside one run of digit groups: the whole run, or the run without stray groups
        ('ref 12 4111 1111 1111 1111', '4111 1111 1111 1111 12/25'). A card starts at the run's
        first group or at a group of 4+ digits (never inside a run of short groups) and spans
        12-19 digits: a few O(1) checks per group, so a megabyte of digit groups stays linear."""
        digits = data[s:e].translate(None, _SEPARATORS)
        if len(digits) < 12:
            return
        groups = _groups(data, s, e)
        prefix = [0]
        for gs, ge in groups:
            prefix.append(prefix[-1] + ge - gs)
        n = len(groups)
        far = 0  # the last group a window from ``i`` may end on (<= 19 digits); only grows
        i = 0
        while i < n:
            gs = groups[i][0]
            if (i and groups[i][1] - gs < 4) or data[gs] not in _FIRST_DIGITS:
                i += 1
                continue
            far = max(far, i)
            while far + 1 < n and prefix[far + 2] - prefix[i] <= 19:
                far += 1
            hit = -1
            for j in range(far, i - 1, -1):
                count = prefix[j + 1] - prefix[i]
                if count < 12:
                    break
                window = digits[prefix[i] : prefix[j + 1]]
                if count > 19 or not _luhn(window) or not credit_card_ok(window.decode()):
                    continue
                cue = _CARD_CONTEXT.near(data, gs, groups[j][1])
                if count == 12 and not (
                    i == 0 and j == n - 1 and (cue or window[:4].decode() in MAESTRO_IINS)
                ):
                    continue  # 12 digits: a whole run, with a card word or one of Maestro's own IINs
                if cue or _plain_layout(data[gs : groups[j][1]]):
                    # 12 digits: Maestro's shortest, and a tenth of random 12-digit runs pass Luhn.
                    score = 1.0 if cue else (0.6 if count == 12 else 0.95)
                    out.append(finding(view, "CREDIT_CARD", gs, groups[j][1], score, self.name))
                    hit = j
                    break
            i = hit + 1 if hit >= 0 else i + 1

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
