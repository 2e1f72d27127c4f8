"""Checksums and structural rules: a match is only reported when the value could be real."""

from __future__ import annotations

import calendar
import hashlib
import ipaddress

# ISO 13616 IBAN lengths per country (SWIFT IBAN registry, incl. partner territories).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) check over a string of ASCII digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i & 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


#: Maestro's own IINs (besides the 50 and 56-69 ranges), the ones issued with 12 digits too.
MAESTRO_IINS = frozenset({"5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763"})


def card_brand(digits: str) -> str | None:
    """The card network whose IIN range and length fit, or None (not a payment card number).

    Ranges and lengths as the networks publish them (ISO/IEC 7812 IINs): a hand-kept table, as
    the PyPI packages for this are unmaintained or cover only Visa/Mastercard/Amex.
    """
    n = len(digits)
    if not 12 <= n <= 19 or not digits.isdigit():
        return None
    p2, p3, p4, p6 = int(digits[:2]), int(digits[:3]), int(digits[:4]), int(digits[:6])
    if n == 12:  # only Maestro issues 12-digit numbers
        return "maestro" if digits[:4] in MAESTRO_IINS or p2 == 50 or 56 <= p2 <= 69 else None
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925) and 16 <= n <= 19:
        return "discover"
    if (3528 <= p4 <= 3589 and 16 <= n <= 19) or (p4 in (1800, 2131) and n == 15):
        return "jcb"  # 1800 and 2131: JCB's older 15-digit ranges
    if (300 <= p3 <= 305 or p2 in (36, 38, 39) or p4 == 3095) and 14 <= n <= 19:
        return "diners"
    if 2200 <= p4 <= 2204 and 16 <= n <= 19:
        return "mir"
    if p2 in (62, 81) and 16 <= n <= 19:
        return "unionpay"
    if (digits[:4] in MAESTRO_IINS or p2 == 50 or 56 <= p2 <= 69) and 13 <= n <= 19:
        return "maestro"
    return None


def credit_card_ok(digits: str) -> bool:
    if len(set(digits)) == 1:
        return False
    return card_brand(digits) is not None and luhn_ok(digits)


def iban_ok(compact: str) -> bool:
    """Country length from the registry, then ISO 7064 mod 97-10 == 1."""
    compact = compact.upper()
    if len(compact) < 15 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum() or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


_SSN_KNOWN_INVALID = frozenset({"078051120", "219099999", "123456789", "111111111", "333333333"})


def ssn_ok(digits: str) -> bool:
    """SSA rules: area not 000/666/9xx, group not 00, serial not 0000; famous fakes excluded."""
    if len(digits) != 9 or not digits.isdigit() or digits in _SSN_KNOWN_INVALID:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return len(set(digits)) > 1


def ipv4_ok(candidate: str) -> bool:
    try:
        ipaddress.IPv4Address(candidate)
    except ValueError:
        return False
    return True


def ipv6_ok(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    groups = [g for g in candidate.split(":") if g]
    # Bare '::' or 'a::b'-like tokens in code (std::min) are not addresses.
    return candidate == "::1" or len(groups) >= 3


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}


def base58check_ok(candidate: str) -> bool:
    """Bitcoin P2PKH/P2SH address: base58 payload whose last 4 bytes are a double-SHA256 prefix."""
    num = 0
    for ch in candidate:
        idx = _B58_INDEX.get(ch)
        if idx is None:
            return False
        num = num * 58 + idx
    raw = num.to_bytes(25, "big") if num.bit_length() <= 200 else b""
    if len(raw) != 25 or raw[0] not in (0x00, 0x05):
        return False
    payload, check = raw[:-4], raw[-4:]
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] == check


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {c: i for i, c in enumerate(_BECH32)}


def _bech32_polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def bech32_ok(candidate: str) -> bool:
    """SegWit address (BIP-173 bech32 for v0, BIP-350 bech32m for v1+)."""
    s = candidate.lower()
    if s != candidate and candidate.upper() != candidate:
        return False
    hrp, sep, rest = s.rpartition("1")
    if not sep or hrp not in ("bc", "tb") or len(rest) < 6:
        return False
    try:
        data = [_BECH32_INDEX[c] for c in rest]
    except KeyError:
        return False
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data
    const = _bech32_polymod(values)
    return const in (1, 0x2BC830A3) and (const == 1) == (data[0] == 0)


def date_ok(year: int, month: int, day: int) -> bool:
    if not (1 <= month <= 12 and 1000 <= year <= 2999):
        return False
    return 1 <= day <= calendar.monthrange(year, month)[1]


def time_ok(hour: int, minute: int, second: int = 0) -> bool:
    return 0 <= hour <= 24 and 0 <= minute <= 59 and 0 <= second <= 60
