"""IP_ADDRESS (v4 and v6, validated by ``ipaddress``) and MAC_ADDRESS."""

from __future__ import annotations

from steward.privacy._regex import Pattern
from steward.privacy.detectors.base import edges_ok, finding
from steward.privacy.findings import Finding
from steward.privacy.normalize import TextView
from steward.privacy.validators import ipv4_ok, ipv6_ok

_IPV4 = r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
_IPV6 = r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?"
_MAC = (
    r"\b(?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}\b|\b(?:[0-9A-Fa-f]{2}-){5}[0-9A-Fa-f]{2}\b"
    r"|\b[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\b"
)
_V4_EDGE = frozenset(b"0123456789.")
_V6_EDGE = frozenset(b"0123456789abcdefABCDEF:.")
_MAC_EDGE = frozenset(b"0123456789abcdefABCDEF:-.")


class NetworkDetector:
    name = "network"
    entity_types = frozenset({"IP_ADDRESS", "MAC_ADDRESS"})

    def __init__(self) -> None:
        self._v4 = Pattern(_IPV4)
        self._v6 = Pattern(_IPV6)
        self._mac = Pattern(_MAC)

    def detect(self, view: TextView) -> list[Finding]:
        data = view.data
        out: list[Finding] = []
        colons = data.count(b":")
        for spans in self._v4.finditer(data) if view.digit_count >= 4 and b"." in data else ():
            s, e = spans[0]
            if edges_ok(data, s, e, _V4_EDGE) and ipv4_ok(data[s:e].decode()):
                out.append(finding(view, "IP_ADDRESS", s, e, 0.95, self.name))
        for spans in self._v6.finditer(data) if colons >= 2 else ():
            s, e = spans[0]
            if e - s < 3 or not edges_ok(data, s, e, _V6_EDGE):
                continue
            if ipv6_ok(data[s:e].decode()):
                out.append(finding(view, "IP_ADDRESS", s, e, 0.95, self.name))
        maybe_mac = colons >= 5 or data.count(b"-") >= 5 or data.count(b".") >= 2
        for spans in self._mac.finditer(data) if maybe_mac else ():
            s, e = spans[0]
            raw = data[s:e]
            if not edges_ok(data, s, e, _MAC_EDGE) or len(set(raw.replace(b":", b"").replace(b"-", b""))) < 2:
                continue
            out.append(finding(view, "MAC_ADDRESS", s, e, 0.9, self.name))
        return out
