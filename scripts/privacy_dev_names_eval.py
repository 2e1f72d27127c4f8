"""Score the fast path's PERSON / LOCATION on Steward's development data only: the development
prose (``privacy_dev_prose.py``, ``privacy_dev_prose_names.py``) and the tuning corpus.

These figures guide rule choices in ``detectors/names_places.py``; they are not headlines (the
rules were chosen on this data). The evaluation sources are deliberately not loaded here.

    .venv/bin/python scripts/privacy_dev_names_eval.py [--errors 40] [--corpus-limit 3000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from privacy_eval import evaluate, load, steward_predictor

from scripts import privacy_dev_prose, privacy_dev_prose_names

TYPES = ("PERSON", "LOCATION")


def _prose_records() -> list[dict[str, object]]:
    rows = privacy_dev_prose.records() + privacy_dev_prose_names.records()
    return [
        {"id": i, "text": text, "spans": [{"start": a, "end": b, "type": t} for a, b, t in spans]}
        for i, (text, spans) in enumerate(rows)
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path(".steward/privacy_corpus.jsonl"))
    ap.add_argument("--corpus-limit", type=int, default=3000)
    ap.add_argument("--errors", type=int, default=0, help="print this many FP/FN examples (prose only)")
    args = ap.parse_args(argv)
    predict = steward_predictor()
    sets = {"dev prose": _prose_records()}
    if args.corpus.exists():
        sets["tuning corpus"] = load(args.corpus)[: args.corpus_limit]
    for label, records in sets.items():
        report = evaluate(records, predict, TYPES)
        cells = []
        for t in TYPES:
            x = report.micro([t])
            cells.append(f"{t} P {x.precision:.3f} R {x.recall:.3f} F2 {x.f2:.3f}")
        print(f"{label:14s} ({len(records)}): " + " | ".join(cells) + f" | {report.ms_per_kb:.2f} ms/KB")
        if label == "dev prose" and args.errors:
            for err in report.errors[: args.errors]:
                print("   ", err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
