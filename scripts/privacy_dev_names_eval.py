"""Score PERSON / LOCATION on Steward's development data only: the development prose
(``privacy_dev_prose.py``, ``privacy_dev_prose_names.py``; ``privacy_dev_prose_ensemble.py``,
written after the fast path's rules were chosen, so it does not flatter them) and the tuning corpus.

These figures guide rule choices in ``detectors/names_places.py`` (fast path) and
``detectors/deep_readings.py`` (deep path); they are not headlines (the rules were chosen on this
data). The evaluation sources are deliberately not loaded here.

    .venv/bin/python scripts/privacy_dev_names_eval.py [--path deep] [--errors 40] [--corpus-limit 3000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from privacy_eval import Predictor, deep_predictor, evaluate, load, steward_predictor

from scripts import privacy_dev_prose, privacy_dev_prose_ensemble, privacy_dev_prose_names

TYPES = ("PERSON", "LOCATION")


def _prose_records(rows: list[tuple[str, list[tuple[int, int, str]]]]) -> list[dict[str, object]]:
    return [
        {"id": i, "text": text, "spans": [{"start": a, "end": b, "type": t} for a, b, t in spans]}
        for i, (text, spans) in enumerate(rows)
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path(".steward/privacy_corpus.jsonl"))
    ap.add_argument("--corpus-limit", type=int, default=3000)
    ap.add_argument("--errors", type=int, default=0, help="print this many FP/FN examples (prose only)")
    ap.add_argument("--path", choices=("fast", "deep"), default="fast")
    ap.add_argument("--model-dir", type=Path, default=Path("models/pii-ner/1"), help="deep path, in-process")
    args = ap.parse_args(argv)
    predict: Predictor = steward_predictor() if args.path == "fast" else deep_predictor(args.model_dir)
    sets = {
        "dev prose": _prose_records(privacy_dev_prose.records() + privacy_dev_prose_names.records()),
        "fresh prose": _prose_records(privacy_dev_prose_ensemble.records()),
    }
    if args.corpus.exists():
        sets["tuning corpus"] = load(args.corpus)[: args.corpus_limit]
    for label, records in sets.items():
        report = evaluate(records, predict, TYPES)
        cells = []
        for t in TYPES:
            x = report.micro([t])
            cells.append(f"{t} P {x.precision:.3f} R {x.recall:.3f} F2 {x.f2:.3f}")
        print(f"{label:14s} ({len(records)}): " + " | ".join(cells) + f" | {report.ms_per_kb:.2f} ms/KB")
        if label != "tuning corpus" and args.errors:
            for err in report.errors[: args.errors]:
                print("   ", err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
