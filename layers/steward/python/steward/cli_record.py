"""Every ``steward`` command leaves one audit record, as every admin API request does.

The record is the api's (`steward.audit.record.build_record` over an `AuditDraft`), sealed into
the same per-tenant chain by the same writer (`steward.audit.chain.ChainWriter`, behind
`steward.bootstrap.build_admin_audit`), under keys derived from the same pepper, so
``steward audit verify`` walks chains that mix API and CLI records. Per record:

- **Chain.** The affected tenant's: ``--tenant T``, ``kill set --scope tenant:T``, or for
  ``keys rotate|revoke K`` the key's tenant. Actions without one (``models``, ``tenants list``,
  a global, model or version switch, an unknown key) go to `PLATFORM_TENANT`, a partition no
  tenant id can name (tenant ids are ``[A-Za-z0-9._-]``); typed text that is not a valid tenant id
  never becomes a partition key either.
- **Who.** ``key_id`` is ``cli:`` + a keyed digest of the AWS principal's ARN
  (`steward.audit.record.operator_id`), never the ARN: for an IAM user or an SSO session it names
  a person. The digest still links one principal's actions across tenants and time.
- **What.** ``route`` is ``CLI steward <group> <action>``; ``reason_codes`` are the API route's
  (``admin.kill_set``, ``reason.incident``, ``key.<id>`` ...); ``status`` is the HTTP status the
  API answers for the same outcome (201 created, 404 ``key.not_found``, 422 invalid input, 503
  AWS unreachable, 500 unexpected), so ``decision`` reads the same both ways. Input and output
  appear as MACs and byte counts only (the parsed arguments; what the command printed), so an
  operator's note or a key's name never reaches the record.
- **Reads too** (``keys list``, ``kill list``, ``audit export`` ...): the API audits every
  request, and who read a tenant's keys or trail is what an investigation asks first.

**When: after the command, before its result is shown.** Only a record written afterwards can
state the outcome (the key ids a rotation made, the code of a refusal). Whatever can fail before
acting is done before acting: the tenant is resolved, the pepper read and the operator
identified first, so a stage whose audit can't be keyed refuses the command with nothing done.
If the write itself then fails, the change stands (it is not rolled back: undoing a kill switch
is worse than an unaudited one), its result is withheld (a new key's secret is not shown, as the
API answers 503 ``audit.unavailable``), a correction saying so is tried once, and the CLI exits
`EXIT_AUDIT_FAILED` with one stderr line naming what was done and where. An *intent* record
written first was weighed and left out: it doubles every change's records and still leaves
"done, outcome unrecorded" after a crash, to cover a write failing between two calls made
milliseconds apart, which this reports loudly (and CloudTrail sees the change itself).
A usage error or an unusable target is not recorded: no stage was reached.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from steward.audit.record import (
    AuditDraft,
    AuditStore,
    Corrections,
    build_record,
    mac_hex,
    operator_id,
    tenant_audit_key,
)
from steward.controls.model import TENANT_ID, ScopeKind
from steward.errors import AuditUnavailable
from steward.settings import AdminSettings

#: The chain of actions on no tenant. ``@`` is outside the tenant id alphabet, so no tenant can
#: ever be created (or typed) into this partition, and it needs no quoting in a shell:
#: ``steward audit verify --tenant @platform``.
PLATFORM_TENANT = "@platform"
#: The command ran (and a change stands) but its audit record was not written.
EXIT_AUDIT_FAILED = 5
#: Global flags that say how to print or where the stage is, not what to do.
_PRESENTATION = frozenset({"json", "debug", "local_state"})

TenantOf = Callable[[argparse.Namespace, AdminSettings], "str | None"]
Describe = Callable[[AuditDraft, argparse.Namespace, "Mapping[str, Any] | None"], None]


def no_tenant(args: argparse.Namespace, settings: AdminSettings) -> str | None:
    return None


def tenant_arg(args: argparse.Namespace, settings: AdminSettings) -> str | None:
    """``--tenant T`` (or the positional ``tenant``), as the services strip it."""
    return str(args.tenant).strip()


def scope_tenant(args: argparse.Namespace, settings: AdminSettings) -> str | None:
    """``--scope tenant:T``: T; any other scope concerns no single tenant."""
    kind, _, rest = str(args.scope).partition(":")
    return rest if kind == ScopeKind.TENANT else None


def nothing(draft: AuditDraft, args: argparse.Namespace, document: Mapping[str, Any] | None) -> None:
    return None


def noted_keys(draft: AuditDraft, args: argparse.Namespace, document: Mapping[str, Any] | None) -> None:
    """The keys an action made or changed, as the API's key routes note them (old, then new)."""
    if document is None:
        return
    previous = document.get("previous")
    if isinstance(previous, Mapping):
        draft.reason_codes.append(f"key.{previous['key_id']}")
    draft.reason_codes.append(f"key.{document['key_id']}")


def scope_kind(draft: AuditDraft, args: argparse.Namespace, document: Mapping[str, Any] | None) -> None:
    """The switch's kind, as the gate's refusals note it (``kill.model``); never the name typed."""
    kind = str(args.scope).partition(":")[0]
    if kind in {k.value for k in ScopeKind}:
        draft.reason_codes.append(f"kill.{kind}")


@dataclass(frozen=True)
class Audited:
    """How one command is audited: the API's reason code for it, whose chain, what it changes."""

    action: str
    tenant: TenantOf = no_tenant
    mutates: bool = False
    created: bool = False  # the API answers 201 for it
    describe: Describe = nothing


class AuditNotWritten(Exception):
    """The command ran but its record was not written (`EXIT_AUDIT_FAILED`)."""

    def __init__(self, message: str, *, done: bool, request_id: str) -> None:
        super().__init__(message)
        self.message = message
        self.done = done
        self.request_id = request_id


class _MacWriter(io.TextIOBase):
    """stdout as the command writes it, MACed and counted on the way (``audit export`` streams)."""

    def __init__(self, inner: TextIO, key: bytes) -> None:
        super().__init__()
        self._inner = inner
        self.mac = hmac.new(key, digestmod=hashlib.sha256)
        self.bytes = 0

    def write(self, text: str) -> int:
        self.add(text)
        return self._inner.write(text)

    def add(self, text: str) -> None:
        data = text.encode("utf-8", "surrogatepass")
        self.mac.update(data)
        self.bytes += len(data)

    def flush(self) -> None:
        self._inner.flush()

    def writable(self) -> bool:
        return True


class Recording:
    """One command's audit record: begun before the command acts, written after it."""

    def __init__(
        self,
        args: argparse.Namespace,
        spec: Audited,
        store: AuditStore,
        key: bytes,
        draft: AuditDraft,
        retention_days: int,
    ) -> None:
        self._args = args
        self._spec = spec
        self._store = store
        self._key = key
        self.draft = draft
        self._retention_days = retention_days
        self._out = _MacWriter(sys.stdout, key)
        self._t0 = time.perf_counter()
        self._latency_ms = 0.0
        self._streamed = 0  # bytes the command wrote to stdout itself

    @classmethod
    def begin(cls, args: argparse.Namespace, settings: AdminSettings, spec: Audited) -> Recording:
        """Resolve the chain, read the pepper, identify the operator: all before anything is done,
        so a failure here refuses the command instead of leaving a change unaudited."""
        from steward import bootstrap

        ports = bootstrap.build_admin_audit(settings)
        tenant = spec.tenant(args, settings)
        partition = tenant if tenant and TENANT_ID.fullmatch(tenant) else PLATFORM_TENANT
        pepper = ports.pepper()
        key = tenant_audit_key(pepper, partition)
        draft = AuditDraft(
            request_id=str(uuid.uuid4()),
            method="CLI",
            route=f"steward {args.group} {args.action}",
            started_at=time.time(),
            tenant_id=partition,
            key_id=operator_id(pepper, ports.caller()),
        )
        draft.reason_codes.append(spec.action)
        reason = getattr(args, "reason", None)
        if isinstance(reason, str):  # argparse admitted a reason code only
            draft.reason_codes.append(f"reason.{reason}")
        arguments = _arguments(args)
        draft.input_hmac, draft.input_bytes = mac_hex(key, arguments), len(arguments)
        return cls(args, spec, ports.store, key, draft, ports.retention_days)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Around the command: timed, and what it writes to stdout itself counted in the output."""
        self._t0 = time.perf_counter()
        try:
            with redirect_stdout(self._out):
                yield
        finally:
            self._latency_ms = (time.perf_counter() - self._t0) * 1000.0
            self._streamed = self._out.bytes

    def done(self, document: Mapping[str, Any], output: str) -> None:
        """Record the success; `AuditNotWritten` if the record can't be written (``output``, the
        result still to print, is then withheld by the caller)."""
        self._spec.describe(self.draft, self._args, document)
        status = 201 if self._spec.created else 200
        self._out.add(output)
        try:
            self._store.put(self._record(status))
        except Exception as error:
            self._withheld()
            message = self._not_written(error)
            raise AuditNotWritten(message, done=True, request_id=self.draft.request_id) from None

    def failed(self, code: str, status: int, output: str) -> bool:
        """Record a refusal or failure (nothing changed, or not known to have); False if the record
        could not be written (the caller says so on the error's line)."""
        self._spec.describe(self.draft, self._args, None)
        self.draft.error_code = code
        self._out.add(output)
        try:
            self._store.put(self._record(status))
        except Exception:
            return False
        return True

    def _record(self, status: int) -> dict[str, Any]:
        return build_record(
            self.draft,
            status=status,
            output_hmac=self._out.mac.hexdigest(),
            output_bytes=self._out.bytes,
            latency_ms=self._latency_ms,
            retention_days=self._retention_days,
        )

    def _withheld(self) -> None:
        """As the api's envelope does: the record, should the unconfirmed write land late, is
        replaced by one saying the result was withheld (one try; the change itself stands)."""
        self.draft.withheld(AuditUnavailable.code)
        Corrections().write(self._store, self._record(AuditUnavailable.status))

    def _not_written(self, error: Exception) -> str:
        from steward.adapters.aws import describe_failure

        described = describe_failure(error)
        cause = described[0] if described is not None else type(error).__name__
        command = f"steward {self._args.group} {self._args.action}"
        keys = [c.removeprefix("key.") for c in self.draft.reason_codes if c.startswith("key.")]
        where = f"tenant {self.draft.tenant_id}" + (f", key {', '.join(keys)}" if keys else "")
        written = "its output was written already" if self._streamed else "its result is withheld"
        if self._spec.mutates:
            return (
                f"{command} was done ({where}) but its audit record could not be written ({cause}); "
                f"the change stands and {written}; tell the stage's security contact "
                f"(request {self.draft.request_id})"
            )
        return (
            f"{command} ({where}): its audit record could not be written ({cause}), so {written} "
            f"(request {self.draft.request_id})"
        )


def _arguments(args: argparse.Namespace) -> bytes:
    """The command's parsed arguments as canonical JSON: what its input MAC covers."""
    fields = {
        name: str(value) if isinstance(value, Path) else value
        for name, value in vars(args).items()
        if name not in _PRESENTATION
    }
    return json.dumps(fields, sort_keys=True, default=str).encode("utf-8", "surrogatepass")
