"""Model cards: what must be written down before a model version may serve, and how it is shown.

The card lives in the model manifest (``card``) and, in full, in the registry version item. A
version is approved only when `missing_fields` is empty, so nobody can route traffic to a model
whose intended use, limitations or evaluation were never stated. ``GET /v1/models/{m}/card``
serves `card_document` as JSON or `render_card_html` (every value escaped).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from steward.catalog.registry import ModelEntry, ModelVersion

#: Free-text fields every card needs (non-empty after stripping).
REQUIRED_TEXT_FIELDS = (
    "description",
    "intended_use",
    "out_of_scope_uses",
    "training_data",
    "limitations",
    "owner",
)
#: Structured fields: ``evaluation`` must hold at least one metric; ``fairness`` must be present
#: and, for models that make decisions about people (classifiers), hold results.
EVALUATION_FIELD = "evaluation"
FAIRNESS_FIELD = "fairness"
REQUIRED_FIELDS = (*REQUIRED_TEXT_FIELDS, EVALUATION_FIELD, FAIRNESS_FIELD)
#: Optional: ``monitoring`` holds monitoring settings, e.g. ``quality_thresholds``
#: (`steward.quality.monitor.thresholds_of`).
MONITORING_FIELD = "monitoring"
OPTIONAL_FIELDS = ("license", MONITORING_FIELD)
CARD_FIELDS = (*REQUIRED_FIELDS, *OPTIONAL_FIELDS)


def makes_decisions(task: str) -> bool:
    """Classifiers assign outcomes to people or items, so group fairness results are required."""
    return task.endswith("-classification")


def _filled(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, Mapping):
        return bool(value)
    return value is not None


def missing_fields(card: Mapping[str, Any], *, task: str, artifact_digest: str) -> list[str]:
    """Why this card is incomplete (empty list: complete). Field names, never their content."""
    missing = [name for name in REQUIRED_TEXT_FIELDS if not _filled(card.get(name))]
    evaluation = card.get(EVALUATION_FIELD)
    if not isinstance(evaluation, Mapping) or not evaluation:
        missing.append(EVALUATION_FIELD)
    fairness = card.get(FAIRNESS_FIELD)
    if not isinstance(fairness, Mapping) or (makes_decisions(task) and not fairness):
        missing.append(FAIRNESS_FIELD)
    if not artifact_digest:
        missing.append("artifact_digest")
    return missing


def clean_card(card: Mapping[str, Any] | None) -> dict[str, Any]:
    """The known card fields only, JSON-safe (what the registry stores)."""
    return {name: _json_safe(card[name]) for name in CARD_FIELDS if card and name in card}


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def card_document(
    entry: ModelEntry, version: ModelVersion, fairness_monitoring: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The public card of one model version: card fields plus the registry's facts about it."""
    card = dict(version.card)
    missing = missing_fields(card, task=version.task, artifact_digest=version.artifact_digest)
    document: dict[str, Any] = {
        "object": "model.card",
        "model": entry.model,
        "version": version.version,
        "task": version.task,
        "approval": version.approval,
        "artifact_digest": version.artifact_digest,
    }
    for name in CARD_FIELDS:
        document[name] = card.get(
            name, {} if name in (EVALUATION_FIELD, FAIRNESS_FIELD, MONITORING_FIELD) else ""
        )
    if not document["owner"] and entry.owner:
        document["owner"] = entry.owner
        missing = [m for m in missing if m != "owner"]
    document["fairness_monitoring"] = dict(fairness_monitoring) if fairness_monitoring else None
    document["complete"] = not missing
    document["missing_fields"] = missing
    return document


# --------------------------------------------------------------------------------------- HTML

_TITLES = {
    "description": "Description",
    "intended_use": "Intended use",
    "out_of_scope_uses": "Out-of-scope uses",
    "training_data": "Training data",
    "evaluation": "Evaluation",
    "fairness": "Fairness (at release)",
    "limitations": "Limitations",
    "owner": "Owner",
    "license": "License",
    "monitoring": "Monitoring",
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#1a1a1a;line-height:1.45}h1{margin-bottom:.2rem}table{border-collapse:collapse;"
    "margin:.4rem 0}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left;"
    "vertical-align:top}th{background:#f3f3f3}.facts td:first-child{font-weight:600}"
    ".missing{color:#a40000}.ok{color:#136f2d}"
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _value_html(value: Any) -> str:
    """Nested mappings as tables, lists as lists, numbers compact; all text escaped."""
    if isinstance(value, Mapping):
        if not value:
            return "<em>none</em>"
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_value_html(v)}</td></tr>" for k, v in value.items())
        return f"<table>{rows}</table>"
    if isinstance(value, list | tuple):
        return "<ul>" + "".join(f"<li>{_value_html(v)}</li>" for v in value) + "</ul>"
    if isinstance(value, float):
        return _e(f"{value:.4g}")
    if value is None or value == "":
        return "<em>not stated</em>"
    return _e(value)


def render_card_html(document: Mapping[str, Any]) -> str:
    """A self-contained HTML page for `card_document` output."""
    title = f"Model card: {document.get('model', '')}@{document.get('version', '')}"
    facts = [
        ("Model", document.get("model")),
        ("Version", document.get("version")),
        ("Task", document.get("task")),
        ("Approval", document.get("approval")),
        ("Artifact digest", document.get("artifact_digest")),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        '<table class="facts">'
        + "".join(f"<tr><td>{_e(k)}</td><td>{_value_html(v)}</td></tr>" for k, v in facts)
        + "</table>",
    ]
    missing = list(document.get("missing_fields") or [])
    if missing:
        parts.append(
            '<p class="missing">Incomplete card, missing: ' + ", ".join(_e(m) for m in missing) + "</p>"
        )
    else:
        parts.append('<p class="ok">Card complete.</p>')
    for name in CARD_FIELDS:
        parts.append(f"<h2>{_e(_TITLES[name])}</h2><div>{_value_html(document.get(name))}</div>")
    monitoring = document.get("fairness_monitoring")
    parts.append("<h2>Fairness monitoring (latest report)</h2>")
    if isinstance(monitoring, Mapping):
        parts.append(f"<div>{_value_html(monitoring)}</div>")
    else:
        parts.append("<p><em>No fairness report yet.</em></p>")
    live = document.get("live")
    if isinstance(live, Mapping):
        window = live.get("window") or {}
        span = f"{window.get('from', '')} to {window.get('to', '')}"
        parts.append(f"<h2>Live figures ({_e(span)}, your traffic)</h2>")
        parts.append(f"<div>{_value_html({k: v for k, v in live.items() if k != 'window'})}</div>")
    history = document.get("history")
    if isinstance(history, list) and history:
        parts.append(
            "<h2>Version history</h2><table><tr><th>When (UTC)</th><th>Event</th><th>Version</th>"
            "<th>Reason</th><th>Who</th></tr>"
        )
        for event in history:
            if isinstance(event, Mapping):
                when = _utc(event.get("at"))
                cells = [
                    when,
                    event.get("event"),
                    event.get("version"),
                    event.get("reason"),
                    event.get("actor"),
                ]
                parts.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _utc(epoch: Any) -> str:
    if isinstance(epoch, int | float) and not isinstance(epoch, bool):
        return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    return ""
