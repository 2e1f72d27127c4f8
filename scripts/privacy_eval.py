"""Evaluate the fast-path PII detector on the labelled corpus: per-type precision, recall, F2.

A prediction counts as a true positive when it has the gold span's type and the overlap covers at
least half of both spans (lenient about a trailing '.', a '+' or a title); each gold span matches
once. F2 weighs recall twice as much as precision (missing personal data is the worse error).

    .venv/bin/python scripts/privacy_corpus.py --seed 7 --out .steward/privacy_corpus.jsonl
    .venv/bin/python scripts/privacy_eval.py --corpus .steward/privacy_corpus.jsonl

The deep path (``--path deep``) runs the same engine with PERSON/LOCATION/STREET_ADDRESS from the
``pii-ner`` token classifier: in-process from the model repository (``--model-dir``, through
``gpu_backend``'s own serving code on the CPU), or over HTTP against a running backend
(``--backend-url``, through ``steward``'s router and the deep-path adapter).

    .venv/bin/python scripts/privacy_eval.py --path deep --model-dir models/pii-ner/1
    .venv/bin/python scripts/privacy_eval.py --path deep --backend-url http://127.0.0.1:8080
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

Span = tuple[int, int, str]
Predictor = Callable[[str], list[Span]]

STRUCTURED = (
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS", "URL", "MAC_ADDRESS",
    "CRYPTO", "DATE_TIME", "US_DRIVER_LICENSE", "US_PASSPORT",
)  # fmt: skip
SECRETS = (
    "CLOUD_ACCESS_KEY",
    "CLOUD_SECRET_KEY",
    "API_TOKEN",
    "PRIVATE_KEY",
    "JWT",
    "BEARER_TOKEN",
    "PASSWORD",
)
NER = ("PERSON", "LOCATION", "STREET_ADDRESS")


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f2(self) -> float:
        p, r = self.precision, self.recall
        return 5 * p * r / (4 * p + r) if p + r else 0.0


@dataclass
class Report:
    per_type: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    seconds: float = 0.0
    kilobytes: float = 0.0
    errors: list[tuple[int, str, str, str]] = field(default_factory=list)

    @property
    def ms_per_kb(self) -> float:
        return 1000 * self.seconds / self.kilobytes if self.kilobytes else 0.0

    def micro(self, types: Iterable[str]) -> Tally:
        t = Tally()
        for name in types:
            x = self.per_type.get(name)
            if x is not None:
                t.tp, t.fp, t.fn = t.tp + x.tp, t.fp + x.fp, t.fn + x.fn
        return t


def load(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _match(gold: Span, pred: Span) -> bool:
    if gold[2] != pred[2]:
        return False
    overlap = min(gold[1], pred[1]) - max(gold[0], pred[0])
    return overlap > 0 and overlap * 2 >= gold[1] - gold[0] and overlap * 2 >= pred[1] - pred[0]


def evaluate(
    records: list[dict[str, object]], predict: Predictor, types: Iterable[str] | None = None
) -> Report:
    scope = set(types) if types is not None else None
    report = Report()
    preds: list[list[Span]] = []
    start = time.perf_counter()
    for rec in records:
        preds.append(predict(str(rec["text"])))
    report.seconds = time.perf_counter() - start
    report.kilobytes = sum(len(str(r["text"]).encode()) for r in records) / 1024
    for rec, pred in zip(records, preds, strict=True):
        gold = [(int(s["start"]), int(s["end"]), str(s["type"])) for s in rec["spans"]]  # type: ignore[attr-defined]
        if scope is not None:
            gold = [g for g in gold if g[2] in scope]
            pred = [p for p in pred if p[2] in scope]
        used: set[int] = set()
        for p in pred:
            hit = next((i for i, g in enumerate(gold) if i not in used and _match(g, p)), None)
            if hit is None:
                report.per_type[p[2]].fp += 1
                report.errors.append((int(rec["id"]), "FP", p[2], str(rec["text"])[p[0] : p[1]]))  # type: ignore[call-overload]
            else:
                used.add(hit)
                report.per_type[p[2]].tp += 1
        for i, g in enumerate(gold):
            if i not in used:
                report.per_type[g[2]].fn += 1
                report.errors.append((int(rec["id"]), "FN", g[2], str(rec["text"])[g[0] : g[1]]))  # type: ignore[call-overload]
    return report


def steward_predictor() -> Predictor:
    import steward.privacy as privacy

    privacy.warm()

    def predict(text: str) -> list[Span]:
        return [(f.start, f.end, f.entity_type) for f in privacy.detect(text)]

    return predict


def deep_detector(model_dir: Path | None = None, backend_url: str | None = None, threads: int = 0):  # type: ignore[no-untyped-def]
    """The deep-path ``Detector``: in-process ``pii-ner`` or the adapter over HTTP."""
    from steward.privacy.detectors.names_places import NamesPlacesDetector

    if backend_url:
        from steward.catalog.registry import ModelVersion, Target
        from steward.privacy.detectors.deep import DeepPiiDetector
        from steward.routing.http_transport import HttpTransport
        from steward.routing.router import Router

        version = ModelVersion(
            model="pii-ner", version="1", approval="approved", target=Target(kind="http", url=backend_url),
            backend_model="pii-ner", backend_version="1",
        )  # fmt: skip
        transport = Router({"http": HttpTransport(backend_url)})
        return DeepPiiDetector(transport, lambda: version, rules=NamesPlacesDetector())

    from steward.privacy.detectors.deep_readings import ModelSpan, settle
    from steward.privacy.entities import NER_TYPES

    from gpu_backend.models.token_classifier import load_local

    model = load_local(model_dir or Path("models/pii-ner/1"), intra_op_threads=threads)
    rules = NamesPlacesDetector()

    class InProcessDeepDetector:
        """The served model in this process, settled with the rules as ``DeepPiiDetector`` does."""

        name = "deep_pii"
        entity_types = NER_TYPES

        def detect(self, view):  # type: ignore[no-untyped-def]
            spans = []
            for e in model.entities([view.text])[0]:
                start, end = view.to_original(e.start, e.end)
                spans.append(ModelSpan(e.entity_type, start, end, e.score, dict(e.readings)))
            return settle(spans, rules.detect(view), view.original, self.name)

    return InProcessDeepDetector()


def deep_predictor(
    model_dir: Path | None = None, backend_url: str | None = None, threads: int = 0
) -> Predictor:
    """The whole engine on the deep path: fast-path detectors for the structured types, the model
    for names, places and addresses, overlaps settled as in production."""
    import steward.privacy as privacy
    from steward.privacy.policy import DetectionPath

    privacy.warm()
    engine = privacy.default_engine()
    detector = deep_detector(model_dir, backend_url, threads)

    def predict(text: str) -> list[Span]:
        found = engine.detect(text, deep=detector, path=DetectionPath.DEEP)
        return [(f.start, f.end, f.entity_type) for f in found]

    predict("warm up: John Smith lives in Paris.")
    return predict


def print_report(name: str, report: Report, types: Iterable[str] | None = None) -> None:
    names = sorted(types if types is not None else report.per_type)
    print(f"\n{name}: {report.ms_per_kb:.3f} ms/KB over {report.kilobytes:.0f} KB")
    print(f"{'type':<20}{'P':>8}{'R':>8}{'F2':>8}{'TP':>7}{'FP':>6}{'FN':>6}")
    for t in names:
        x = report.per_type.get(t, Tally())
        print(f"{t:<20}{x.precision:>8.3f}{x.recall:>8.3f}{x.f2:>8.3f}{x.tp:>7}{x.fp:>6}{x.fn:>6}")
    for label, group in (
        ("structured (micro)", STRUCTURED),
        ("secrets (micro)", SECRETS),
        ("names/places (micro)", NER),
    ):
        x = report.micro(group)
        if x.tp + x.fp + x.fn:
            print(f"{label:<20}{x.precision:>8.3f}{x.recall:>8.3f}{x.f2:>8.3f}{x.tp:>7}{x.fp:>6}{x.fn:>6}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path(".steward/privacy_corpus.jsonl"))
    ap.add_argument("--errors", type=int, default=0, help="print this many FP/FN examples per type")
    ap.add_argument("--path", choices=("fast", "deep"), default="fast")
    ap.add_argument("--model-dir", type=Path, default=Path("models/pii-ner/1"), help="deep path, in-process")
    ap.add_argument("--backend-url", default="", help="deep path over HTTP against a running backend")
    ap.add_argument("--threads", type=int, default=0, help="deep path in-process: ORT intra-op threads")
    args = ap.parse_args(argv)
    records = load(args.corpus)
    if args.path == "deep":
        predictor = deep_predictor(args.model_dir, args.backend_url or None, args.threads)
        where = args.backend_url or str(args.model_dir)
        report = evaluate(records, predictor)
        print_report(f"steward deep path ({where})", report)
    else:
        report = evaluate(records, steward_predictor())
        print_report("steward fast path", report)
    if args.errors:
        shown: dict[tuple[str, str], int] = defaultdict(int)
        for rid, kind, etype, value in report.errors:
            if shown[(kind, etype)] < args.errors:
                shown[(kind, etype)] += 1
                print(f"  {kind} {etype:<18} #{rid}: {value!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
