"""How far the Lambda's token estimate (what quotas charge) is from the MiniLM tokenizer's count.

Text nobody here wrote, from what the virtual environment already holds (nothing is downloaded):
- *tuning*: paragraphs of installed packages' descriptions (``*.dist-info/METADATA``), which the
  estimator's constants were chosen on;
- *held out*: docstrings of the Python standard library, never looked at while tuning (the
  headline);
- *adversarial*: shapes a caller could pick to pay less (single letters, digits, CJK, Cyrillic,
  accented Latin, emoji).
Prints, per set, the estimate/real ratio (and the old four-characters-per-token baseline's)
at p5, p50, p95 and in total (1.0 is exact; below 1 undercharges).

Usage: .venv/bin/python scripts/measure_token_estimate.py [--tokenizer PATH/tokenizer.json]
"""

from __future__ import annotations

import argparse
import ast
import random
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "steward" / "python"))

from steward.inference.token_estimate import estimate_tokens  # noqa: E402

SAMPLE = 2_000
ADVERSARIAL = {
    "single letters": "a b c d e " * 50,
    "digits": "1 2 3 4 " * 60,
    "long numbers": "1234567890 " * 40,
    "CJK": "日本語のテキスト" * 50,
    "Cyrillic": "Привет, как дела сегодня? " * 20,
    "accented Latin": "Grüße aus München, schönes Wetter heute. " * 20,
    "emoji": "🙂 " * 200,
    "long words": "internationalization " * 50,
}


def metadata_paragraphs() -> Iterator[str]:
    site = Path(sysconfig.get_paths()["purelib"])
    for path in sorted(site.glob("*.dist-info/METADATA")):
        body = path.read_text(encoding="utf-8", errors="ignore").split("\n\n", 1)[-1]
        yield from _paragraphs(body)


def stdlib_docstrings() -> Iterator[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc:
                    yield from _paragraphs(doc)


def _paragraphs(text: str) -> Iterator[str]:
    for part in text.split("\n\n"):
        part = part.strip()
        if 80 < len(part) < 1_500 and not part.startswith(("```", "    ", ".. ", "|", ">>>")):
            yield part


def four_chars_per_token(text: str) -> int:
    """The baseline: what Steward charged before (about four characters per word piece)."""
    return (len(text) + 3) // 4 + 2


def report(name: str, texts: list[str], count: Callable[[str], int]) -> None:
    real = [count(t) for t in texts]
    for label, estimate in (("estimate", estimate_tokens), ("baseline", four_chars_per_token)):
        ratios = sorted(estimate(t) / r for t, r in zip(texts, real, strict=True))
        n = len(ratios)
        total = sum(estimate(t) for t in texts) / sum(real)
        print(
            f"{name:<9} {label:<8} n={n:<5} /real p5 {ratios[n // 20]:.2f}  p50 {ratios[n // 2]:.2f}  "
            f"p95 {ratios[-(n // 20) - 1]:.2f}  total {total:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizer", default=str(ROOT / "models/all-minilm-l6-v2/1/tokenizer.json"))
    args = parser.parse_args()
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(args.tokenizer)
    tokenizer.no_truncation()

    def count(text: str) -> int:
        return len(tokenizer.encode(text).ids)

    rng = random.Random(0)
    for name, source in (("tuning", metadata_paragraphs), ("held out", stdlib_docstrings)):
        texts = list(dict.fromkeys(source()))
        rng.shuffle(texts)
        report(name, texts[:SAMPLE], count)
    print("adversarial: estimate / baseline / real")
    for name, text in ADVERSARIAL.items():
        print(f"  {name:<15} {estimate_tokens(text):>4} / {four_chars_per_token(text):>4} / {count(text)}")


if __name__ == "__main__":
    main()
