"""Secrets a prompt should never carry: cloud keys, API tokens, private keys, JWTs, bearer tokens,
passwords in connection strings and config lines.

Entity types (Steward's own; Presidio has none for these): CLOUD_ACCESS_KEY, CLOUD_SECRET_KEY,
API_TOKEN, PRIVATE_KEY, JWT, BEARER_TOKEN, PASSWORD.
"""

from __future__ import annotations

import base64
import json

from steward.privacy._regex import Pattern
from steward.privacy.detectors.base import bounded, finding
from steward.privacy.findings import Finding
from steward.privacy.normalize import TextView

_AWS_KEY_ID = r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z2-7]{16}\b"
_GCP_API_KEY = r"\bAIza[0-9A-Za-z_\-]{35}\b"
_AWS_SK_PATTERN = (
    r"(?i)(?:aws_?secret_?access_?key|aws_?secret|secret_?access_?key|secretaccesskey)"
    r"[\"']?\s{0,3}[:=]\s{0,3}[\"']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"
)
_AZURE_KEY = (
    r"(?i)(?:AccountKey|SharedAccessKey|azure_?storage_?key)\s{0,3}[:=]\s{0,3}[\"']?"
    r"([A-Za-z0-9+/]{40,100}={0,2})"
)
_API_TKN_PATTERN = (
    r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}|xox[abposr]-[A-Za-z0-9\-]{10,200}"
    r"|sk_live_[A-Za-z0-9]{16,99}|rk_live_[A-Za-z0-9]{16,99}|sk-(?:proj-)?[A-Za-z0-9_\-]{32,200}"
    r"|glpat-[A-Za-z0-9_\-]{20,64}|npm_[A-Za-z0-9]{36}|hf_[A-Za-z0-9]{30,64}"
    r"|SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})"
)
_PRIVATE_KEY = (
    r"-----BEGIN (?:[A-Z0-9]+ )?PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
    r"-----END (?:[A-Z0-9]+ )?PRIVATE KEY(?: BLOCK)?-----"
)
_JWT = r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"
_BEARER = r"(?i)\bbearer\s{1,3}([A-Za-z0-9\-._~+/]{16,}=*)"
# scheme://user:PASSWORD@host — the password group only.
_CONN_PW_PATTERN = r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^\s:/@]{1,128}:([^\s@/]{1,128})@[^\s]"
_KV_PW_PATTERN = (
    r"(?i)\b(?:password|passwd|pwd|pass|passphrase|secret|client_secret|db_pass(?:word)?)"
    r"[\"']?\s{0,3}(?:([:=])|is)\s{0,3}[\"']?([^\s\"';,]{4,128})"
)
# Cheap substring pre-checks (on lower-cased bytes): no trigger, no pattern run.
_AWS_PREFIXES = (b"akia", b"asia", b"agpa", b"aida", b"aroa", b"aipa", b"anpa", b"anva", b"abia", b"acca")
_TOKEN_PREFIXES = (
    b"ghp_",
    b"gho_",
    b"ghu_",
    b"ghs_",
    b"ghr_",
    b"github_pat_",
    b"xox",
    b"_live_",
    b"sk-",
    b"glpat-",
    b"npm_",
    b"hf_",
    b"sg.",
)
_NOT_PASSWORDS = frozenset({b"none", b"null", b"true", b"false", b"required", b"********", b"redacted"})


def _b64json(segment: bytes) -> dict[str, object] | None:
    try:
        decoded = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
        value = json.loads(decoded)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


class SecretsDetector:
    name = "secrets"
    entity_types = frozenset(
        {
            "CLOUD_ACCESS_KEY",
            "CLOUD_SECRET_KEY",
            "API_TOKEN",
            "PRIVATE_KEY",
            "JWT",
            "BEARER_TOKEN",
            "PASSWORD",
        }
    )

    def __init__(self) -> None:
        self._aws_id = Pattern(_AWS_KEY_ID)
        self._gcp = Pattern(_GCP_API_KEY)
        self._aws_secret = Pattern(_AWS_SK_PATTERN)
        self._azure = Pattern(_AZURE_KEY)
        self._api = Pattern(_API_TKN_PATTERN)
        self._pem = Pattern(_PRIVATE_KEY)
        self._jwt = Pattern(_JWT)
        self._bearer = Pattern(_BEARER)
        self._conn = Pattern(_CONN_PW_PATTERN)
        self._kv = Pattern(_KV_PW_PATTERN)

    def detect(self, view: TextView) -> list[Finding]:
        data = view.data
        low = view.lower
        out: list[Finding] = []

        def add(entity: str, span: tuple[int, int], score: float) -> None:
            out.append(finding(view, entity, span[0], span[1], score, self.name))

        def has(*keys: bytes) -> bool:
            return any(k in low for k in keys)

        if has(*_AWS_PREFIXES):
            for g in self._aws_id.finditer(data):
                add("CLOUD_ACCESS_KEY", g[0], 1.0)
        if b"AIza" in data:
            for g in self._gcp.finditer(data):
                add("CLOUD_ACCESS_KEY", g[0], 0.95)
        if b"secret" in low:
            for g in self._aws_secret.finditer(data):
                add("CLOUD_SECRET_KEY", g[1], 1.0)
        if has(b"accountkey", b"sharedaccesskey", b"storage"):
            for g in self._azure.finditer(data):
                add("CLOUD_SECRET_KEY", g[1], 0.95)
        if has(*_TOKEN_PREFIXES):
            for g in self._api.finditer(data):
                if bounded(data, *g[0]):
                    add("API_TOKEN", g[0], 0.95)
        if b"-----BEGIN" in data:
            for g in self._pem.finditer(data):
                add("PRIVATE_KEY", g[0], 1.0)
        if b"eyJ" in data:
            for g in self._jwt.finditer(data):
                s, e = g[0]
                header = _b64json(data[s : data.index(b".", s)])
                if header is not None and ("alg" in header or "typ" in header):
                    add("JWT", (s, e), 1.0)
        if b"bearer" in low:
            for g in self._bearer.finditer(data):
                add("BEARER_TOKEN", g[1], 0.9)
        if b"://" in data:
            for g in self._conn.finditer(data):
                add("PASSWORD", g[1], 0.95)
        if has(b"pass", b"pwd", b"secret"):
            for g in self._kv.finditer(data):
                s, e = g[2]
                value = data[s:e].rstrip(b".")
                e = s + len(value)
                if len(value) < 4 or value.lower() in _NOT_PASSWORDS or set(value) <= set(b"*x"):
                    continue
                # 'the password is wrong' is prose; 'password is Tr0ub4dor&3' is a secret.
                if g[1][0] == -1 and value.isalpha():
                    continue
                add("PASSWORD", (s, e), 0.85)
        return out
