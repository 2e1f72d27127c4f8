"""PERSON, LOCATION and STREET_ADDRESS on the fast path: capitalised-word runs checked against the
census name lists and the geonames place list, kept only with enough evidence (a context cue such
as 'Dr.', 'my name is', 'lives in', or a full first+last name, or an unambiguous place).

Recall on rare or foreign names without a cue is the price of the fast path; the deep path (a
token-classification model on the backend) is what a policy picks when that matters.
"""

from __future__ import annotations

from steward.privacy import lexicons
from steward.privacy._regex import Pattern
from steward.privacy.findings import Finding
from steward.privacy.normalize import TextView

# An apostrophe, straight or typographic (U+2019), may follow a leading capital (O'Brien).
_WORD_RE = r"\p{Lu}(?:['\x{2019}]\p{Lu})?\p{Ll}+(?:-?\p{Lu}?\p{Ll}+){0,3}"
_INITIAL = r"\p{Lu}\."
_UNIT = r"(?:" + _INITIAL + " )?" + _WORD_RE
_CONNECTOR_WORDS = "de da do dos das del della la le of upon sur am bin ibn van von der den ter du".split()  # noqa: SIM905
_CONNECTORS = frozenset(w.encode() for w in _CONNECTOR_WORDS)
_SEQUENCE = _UNIT + r"(?: (?:(?:" + "|".join(_CONNECTOR_WORDS) + r") )?" + _UNIT + r"){0,5}"
_LOWER_INTRO = (
    r"(?i)\b(?:my name is|name is|i am|i'm|this is|call me|named|called)[ ]+"
    r"([a-z][a-z'\-]+)(?:[ ]+([a-z][a-z'\-]+))?"
)
_TITLES = frozenset(
    b"mr mr. mrs mrs. ms ms. miss dr dr. prof prof. sir dame madam mx mx. lady lord rev rev. fr fr. "
    b"mister doctor professor".split()
)
# Offices and ranks written before a name in reports ('Prime Minister X', 'Coach X', 'the
# minister, X'): the name after one is a person even when no list knows it.
_OFFICES = frozenset(
    """
    president vice-president minister premier senator sen congressman congresswoman governor judge
    justice magistrate captain capt coach skipper chancellor commander admiral general gen colonel
    col lieutenant lt sergeant sgt corporal inspector superintendent commissioner constable
    detective spokesman spokeswoman spokesperson chairman chairwoman chair chief leader treasurer
    secretary mayor prince princess king queen sheikh ayatollah pope bishop archbishop cardinal
    rabbi imam cleric ambassador envoy director deputy counsellor councillor mp chancellor
    emperor sultan emir crown prime
    """.split()  # noqa: SIM905
)


def is_title(word: str) -> bool:
    """A title or an office written before a name ('Dr', 'Judge', 'Prime'): never part of one."""
    low = word.lower()
    return low.encode() in _TITLES or low in _OFFICES


_PERSON_CUE_LIST = (
    b"my name is", b"name is", b"name:", b"i am", b"i'm", b"this is", b"dear", b"hi", b"hello", b"thanks",
    b"thank you", b"sincerely", b"regards", b"signed", b"patient", b"client", b"customer", b"applicant",
    b"employee", b"contact", b"ask for", b"spoke with", b"spoke to", b"talked to", b"met with", b"meet",
    b"attn", b"named", b"called", b"son", b"daughter", b"wife", b"husband", b"mother", b"father",
    b"brother", b"sister", b"friend", b"colleague", b"manager", b"cc:", b"from:", b"to:", b"by", b"with",
    b"and", b"user", b"tenant", b"owner", b"holder", b"mrs", b"according to", b"said", b"told", b"ask",
    b"for", b"hire,", b"cc", b"from", b"to", b"reply to", b"forward to",
)  # fmt: skip
# Cues are matched on the last one to three words before a name, as whole words.
_PERSON_CUES = frozenset(c.rstrip(b":,") for c in _PERSON_CUE_LIST)
_PLACE_PREPOSITIONS = frozenset(
    b"in from to near at visiting visit via around across outside inside towards toward into of "
    b"through reached leaving left".split()
)
_PLACE_CUES = (
    b"lives in",
    b"live in",
    b"born in",
    b"based in",
    b"moved to",
    b"located in",
    b"city of",
    b"flew to",
    b"travel to",
    b"relocated to",
    b"headquartered in",
    b"office in",
    b"resident of",
)
# For a word that is also a first name ('Florence', 'Jackson'), only these make it a place.
_STRONG_PLACE_PREPOSITIONS = frozenset(b"in from near visiting via".split())
_US_STATE_CODES = frozenset(
    b"AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "
    b"NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC".split()
)
# Three or more words in capitals: a headline ('FLOODS HIT MOZAMBIQUE AS AID ARRIVES IN MAPUTO').
_CAPS_RUN = r"(?:\b\p{Lu}[\p{Lu}'\-]+[ ,:]{1,3}){2,15}\p{Lu}[\p{Lu}'\-]+\b"
_SENTENCE_END = frozenset(b'.!?\n\r\t:;"(')
# A word in the capitalised run that makes it an organisation, event or building, not a person or
# a place ('Kyoto University', 'Sydney Morning Herald', 'Melbourne Cup').
_ORG_WORDS = frozenset(
    """
    inc ltd llc plc corp corporation co company group holdings industries motors airlines airways
    party council ministry university college school institute academy association department
    bank herald times post news journal press review gazette board commission committee club
    foundation agency organisation organization union alliance federation league army navy police
    tribunal parliament senate assembly congress authority fund trust cup games olympics stadium
    hospital airport exchange network radio television tv church cathedral mosque temple centre
    government
    """.split()  # noqa: SIM905
)
# Verbs of speech or action after a run of unknown capitalised words that make it a person.
_SPEECH_AFTER = (
    b" said", b" says", b" told", b" asked", b" added", b" announced", b" argued", b" urged",
    b" warned", b" denied", b" insisted", b" explained", b" confirmed", b" admitted", b" claimed",
    b" replied", b" wrote", b" scored", b" won", b" beat", b" defeated", b" resigned",
)  # fmt: skip

# USPS street suffixes (Publication 28, common subset) and unit designators.
_SUFFIXES = "|".join(
    """
    Crossroads? Expressway Extensions? Throughway Trafficway Boulevard Junctions? Mountains?
    Stravenue Underpass Causeway Crescent Crossing Crossway Motorway Overpass Parkways? Turnpike
    Villages? Centers? Circles? Commons? Corners? Estates? Freeway Gardens? Gateway Harbors? Heights
    Highway Islands? Landing Meadows? Mission Orchard Passage Prairie Springs? Squares? Station
    Streets? Terrace Trailer Valleys? Viaduct Arcade Avenue Bluffs? Bottom Branch Bridge Brooks?
    Bypass Canyon Cliffs? Course Courts? Divide Drives? Fields? Forest Forges? Greens? Groves?
    Hollow Knolls? Lights? Manors? Plains? Points? Radial Rapids? Ridges? Shoals? Shores? Skyway
    Stream Summit Tunnel Unions? Alley Annex Bayou Beach Burgs? Close Coves? Creek Crest Curve
    Falls? Ferry Flats? Fords? Forks? Glens? Green Grove Haven Hills? Inlet Isles? Lakes? Locks?
    Lodge Mills? Mount Parks? Pines? Place Plaza Ports? Ranch River Roads? Route Spurs? Trace Track
    Trail Views? Ville Vista Walks? Wells? Wharf Bend Blvd Camp Cape Club Cres Crse Crst Cswy Curv
    Dale Expy Fort Frst Gtwy Holw Inlt Keys? Land Lane Lndg Loaf Loop Mall Mead Mews Mtwy Neck Opas
    Orch Oval Park Pass Path Pike Pkwy Psge Quay Radl Ramp Rest Rnch Skwy Stra Strm Tpke Trak Trce
    Trfy Trlr Trwy Tunl Upas Walk Wall Ways? Xing Yard Aly Anx Arc Ave Bch Blf Bnd Brg Brk Btm Byp
    Byu Cir Clb Clf Cmn Cor Cpe Crk Ctr Cyn Dam Est Ext Fld Fls Flt Frd Frg Frk Fry Fwy Gdn Gln Grn
    Grv Hbr Hts Hvn Hwy Jct Knl Lck Ldg Lgt Mdw Mnr Msn Mtn Nck Pln Plz Pne Prt Rdg Riv Row Rpd Rst
    Rte Rue Run Shl Shr Smt Spg Sta Ter Trl Via Vis Vlg Vly Way Xrd Av Bg Br Cp Ct Cv Dl Dm Dr Dv Ft
    Hl Is Ky Lf Lk Ln Ml Mt Pl Pr Pt Rd Sq St Un Vl Vw Wl
    """.split()  # noqa: SIM905
)  # USPS Publication 28, Appendix C1 (primary names and abbreviations)
_UNIT_DESIGNATOR = (
    r"(?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|Rm|Room|Bldg|Building|#)\.? ?#?[A-Za-z0-9\-]{1,6}"
)
_STREET_US = (
    r"\b\d{1,6}[A-Za-z]?(?: (?:[NSEW]\.?|North|South|East|West|NE|NW|SE|SW))?"
    r"(?: (?:\p{Lu}[\p{L}'\.\-]*|\d{1,3}(?:st|nd|rd|th))){1,4} (?:" + _SUFFIXES + r")\b\.?"
    r"(?: (?:[NSEW]|NE|NW|SE|SW)\b\.?)?"
    r"(?:,? " + _UNIT_DESIGNATOR + r")?"
    r"(?:,?[ \n]\p{Lu}\p{Ll}+(?: \p{Lu}\p{Ll}+){0,2},? (?:[A-Z]{2}|\p{Lu}\p{Ll}+(?: \p{Lu}\p{Ll}+)?)"
    r" \d{5}(?:-\d{4})?)?"
)
_STREET_DE = (
    r"\b\p{Lu}[\p{L}\-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer)"
    r" \d{1,4}[a-z]?(?:, \d{5} \p{Lu}\p{Ll}+)?"
)
_STREET_FR = (
    r"\b\d{1,4}(?: ?(?:bis|ter))?,? (?:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai|route)"
    r"(?: (?:de|du|des|la|le|l'|d')?[ ]?\p{Lu}[\p{L}\-']*){1,4}(?:, \d{5} \p{Lu}[\p{L}\-]+)?"
)
_STREET_UK_POSTCODE = r"(?:,? \p{Lu}\p{Ll}+(?: \p{Lu}\p{Ll}+){0,2})?,? [A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}\b"


class NamesPlacesDetector:
    name = "names_places"
    entity_types = frozenset({"PERSON", "LOCATION", "STREET_ADDRESS"})

    def __init__(self) -> None:
        self._sequence = Pattern(_SEQUENCE)
        self._lower_intro = Pattern(_LOWER_INTRO)
        self._street = Pattern("(?:" + _STREET_US + "|" + _STREET_DE + "|" + _STREET_FR + ")")
        self._uk_postcode = Pattern(_STREET_UK_POSTCODE)
        self._caps_run = Pattern(_CAPS_RUN)
        self._based = Pattern(r"\b(\p{Lu}\p{Ll}+(?: \p{Lu}\p{Ll}+){0,2})-based\b")

    def detect(self, view: TextView) -> list[Finding]:
        data = view.data
        out: list[Finding] = []
        first, last = lexicons.first_names(), lexicons.last_names()
        places = lexicons.places()
        common = lexicons.common_words()

        identity = view.is_identity
        name = self.name

        def add(entity: str, s: int, e: int, score: float) -> None:
            if identity:
                out.append(Finding(entity, s, e, score, name))
            else:
                start, end = view.span(s, e)
                out.append(Finding(entity, start, end, score, name))

        for g in self._street.finditer(data):
            s, e = g[0]
            if not _street_evidence(data, s, e):
                continue
            post = self._uk_postcode.search(data, e, min(len(data), e + 40))
            if post is not None and post[0][0] == e:
                e = post[0][1]
            add("STREET_ADDRESS", s, e, 0.85)

        for g in self._sequence.finditer(data):
            self._sequence_findings(data, g[0], first, last, places, common, add)

        for g in self._based.finditer(data):  # 'a Sydney-based lawyer'
            s1, e1 = g[1]
            if data[s1:e1].decode("utf-8", "replace") in places.kinds:
                add("LOCATION", s1, e1, 0.85)

        for g in self._caps_run.finditer(data):
            _headline_findings(data, g[0], first, last, places, common, add)

        for g in self._lower_intro.finditer(data):
            s1, e1 = g[1]
            w1 = data[s1:e1].decode("utf-8", "replace")
            if not w1[0].islower() or w1 in common or w1 not in first:
                continue
            e = e1
            if g[2][0] != -1:
                w2 = data[g[2][0] : g[2][1]].decode("utf-8", "replace")
                if w2 not in common and (w2 in last or w2 in first):
                    e = g[2][1]
            add("PERSON", s1, e, 0.8)
        return out

    @staticmethod
    def _sequence_findings(data, span, first, last, places, common, add) -> None:  # type: ignore[no-untyped-def]
        s, e = span
        if b" " not in data[s:e] and data[s:e].lower().decode("utf-8", "replace") in common:
            return  # a lone sentence-initial 'The', 'Please', 'Can'
        tokens: list[tuple[str, int, int]] = []
        pos = s
        initial_start: int | None = None
        for raw in data[s:e].split(b" "):
            if len(raw) == 2 and raw[1] == 0x2E:  # an initial: 'J.'
                if not tokens:
                    initial_start = pos
            else:
                tokens.append((raw.decode("utf-8"), pos, pos + len(raw)))
            pos += len(raw) + 1
        kinds = places.kinds
        lows = [t[0].lower() for t in tokens]
        # Words of an organisation, event or building ('Kyoto University'), up to a connector:
        # 'Professor Hiroshi Tanaka of Kyoto University' keeps the person.
        org = _org_tokens(lows) if not _ORG_WORDS.isdisjoint(lows) else set()
        if len(org) == len(tokens):
            return
        prev = _prev_word(data, tokens[0][1] if tokens else s)
        if (
            not any(
                w in first or w in last or t[0] in kinds or t[0] in places.multi_first
                for w, t in zip(lows, tokens, strict=True)
            )
            and prev not in _TITLES
            and prev.decode("utf-8", "replace") not in _OFFICES
            and _OFFICES.isdisjoint(lows)
            and not data.startswith(_SPEECH_AFTER, e)
            and not (len(tokens) == 1 and prev in _UNKNOWN_PLACE_CUES)
        ):
            return  # no known name or place, no title and no speech verb: nothing to report
        i = 0
        n = len(tokens)
        titled = False
        while i < n:
            word, ts, _te = tokens[i]
            low = word.lower()
            if i in org:
                i += 1
                continue
            if low in _OFFICES or low.encode() in _TITLES:
                titled = True
                i += 1
                continue
            # 1. Known place, longest match first ('New York', 'Feira de Santana').
            placed = False
            for k in range(min(places.multi_first.get(word, 1), n - i), 0, -1):
                name = word if k == 1 else " ".join(t[0] for t in tokens[i : i + k])
                kind = kinds.get(name)
                if kind is None:
                    continue
                pe = tokens[i + k - 1][2]
                followed = i + k < n and tokens[i + k][0].lower() not in common
                major = kind in ("country", "region") or name in places.major
                score = _place_score(data, ts, pe, k, kind, low, first, last, common, followed, major, kinds)
                if score > 0:
                    add("LOCATION", ts, pe, score)
                    _state_after(data, pe, add)
                    i += k
                    placed = True
                break
            if placed:
                titled = False
                continue
            if (low in common and not _name_word(tokens, i, i, common, first, last)) or (
                low.encode() in _CONNECTORS
            ):
                titled = False
                i += 1
                continue
            # 2. A run of name-like tokens.
            j = i
            while j < n and j - i < 4:
                w = tokens[j][0]
                if j in org or w.lower() in _OFFICES or w.lower().encode() in _TITLES:
                    break
                if w.lower() in common and not _name_word(tokens, j, i, common, first, last):
                    break
                # A country or big city ends a name ('Kofi Annan Ghana'); a small town does not
                # ('Nelson Mandela': 'Mandela' is also a town).
                if (
                    j > i
                    and w in kinds
                    and w.lower() not in last
                    and (kinds[w] != "city" or w in places.major)
                ):
                    break
                if w[0].islower():
                    # A particle inside a name ('Osama bin Laden', 'Ludwig van Beethoven').
                    if j > i and w in _PARTICLES and j + 1 < n and tokens[j + 1][0][0].isupper():
                        j += 1
                        continue
                    break
                j += 1
            run = tokens[i:j]
            rs = initial_start if (i == 0 and initial_start is not None) else run[0][1]
            re_ = run[-1][2]
            score = 0.9 if titled else _person_score(data, rs, run, first, last)
            if score == 0 and data.startswith(_SPEECH_AFTER, re_) and (len(run) >= 2 or lows[i] in last):
                score = 0.7
            if score == 0 and len(run) == 1 and _unknown_place(data, rs, lows[i], first, last):
                add("LOCATION", rs, re_, 0.5)
            if score > 0:
                add("PERSON", rs, re_, score)
            titled = False
            i = max(j, i + 1)


# English words that end like a German street name ('During 1971', 'Spring 2020', 'String 12').
_GERMAN_LOOKALIKES = frozenset(b"during spring string bring wring ring offspring".split())
_VOWELS = frozenset(b"aeiouy")
_TEMPORAL = frozenset(
    b"in during since until till by from before after around circa early late mid of between".split()
)


_PARTICLES = frozenset("bin ibn van von der den ter du de da del della dos das".split())  # noqa: SIM905


def _name_word(tokens, j, i, common, first, last) -> bool:  # type: ignore[no-untyped-def]
    """A common word that is a given name starts a name when a surname follows ('Grant Hackett',
    'Bob Brown'); one after a known given name ends it ('Peter Young')."""
    low = tokens[j][0].lower()
    nxt = tokens[j + 1][0].lower() if j + 1 < len(tokens) else ""
    if j == i:
        return low in first and nxt in last and nxt not in common
    return low in last and tokens[j - 1][0].lower() in first and tokens[j - 1][0].lower() not in common


def _org_tokens(lows: list[str]) -> set[int]:
    """Indexes of the tokens in each connector-bounded segment that holds an organisation word."""
    out: set[int] = set()
    segment: list[int] = []
    has_org = False
    for idx, low in enumerate(lows):
        if low.encode() in _CONNECTORS and low not in _PARTICLES:
            if has_org:
                out.update(segment)
            segment, has_org = [], False
            continue
        segment.append(idx)
        has_org = has_org or low in _ORG_WORDS
    if has_org:
        out.update(segment)
    return out


def _street_evidence(data: bytes, s: int, e: int) -> bool:
    """Reject street shapes that are prose: an English '-ring' word before a number ('During
    1971': gerunds end in a vowel + 'ring', German compounds such as 'Kaiserring' do not), and a
    year after a temporal word before capitalised words ('In 1971 Supreme Court ...')."""
    first = data[s:e].split(b" ", 1)[0]
    low = first.lower()
    if low.endswith(b"ring") and (low in _GERMAN_LOOKALIKES or len(low) < 7 or low[-5] in _VOWELS):
        return False
    year_like = first.isdigit() and len(first) == 4 and 1600 <= int(first) <= 2099
    return not (year_like and _prev_word(data, s) in _TEMPORAL)


def _words_before(data: bytes, b_start: int, n: int = 3) -> list[bytes]:
    """The last ``n`` lower-cased words before a span, nearest last, punctuation trimmed."""
    chunk = data[max(0, b_start - 40) : b_start].lower()
    words = chunk.replace(b"\n", b" ").replace(b",", b" ").split()
    return [w.strip(b"\"'()[]:;") for w in words[-n:]]


def _person_cued(data: bytes, rs: int) -> bool:
    words = _words_before(data, rs)
    if not words:
        return False
    return (
        words[-1] in _PERSON_CUES
        or (len(words) >= 2 and b" ".join(words[-2:]) in _PERSON_CUES)
        or (len(words) >= 3 and b" ".join(words[-3:]) in _PERSON_CUES)
    )


_TO_SPACE = bytes.maketrans(b'\n\r\t,;:()"', b"         ")


def _prev_word(data: bytes, b_start: int) -> bytes:
    """The lower-cased word just before ``b_start`` (punctuation other than '.' trimmed)."""
    words = data[max(0, b_start - 24) : b_start].translate(_TO_SPACE).split()
    return words[-1].lower() if words else b""


def _sentence_initial(data: bytes, b_start: int) -> bool:
    k = b_start - 1
    while k >= 0 and data[k] in b" \t":
        k -= 1
    return k < 0 or data[k] in _SENTENCE_END


def _person_score(data, rs, run, first, last) -> float:  # type: ignore[no-untyped-def]
    words = [t[0].lower() for t in run]
    prev = _prev_word(data, rs)
    in_first = words[0] in first
    known = sum(1 for w in words if w in first or w in last)
    if prev in _TITLES or prev.decode("utf-8", "replace") in _OFFICES:
        return 0.9
    if len(words) >= 2 and in_first and words[-1] in last:
        return 0.8
    cued = _person_cued(data, rs)
    if len(words) >= 2:
        if in_first and known >= 1:
            return 0.75 if cued else 0.6
        if known >= 1 and cued:
            return 0.7
        return 0.0
    if cued and (in_first or words[0] in last):
        return 0.75
    if (in_first or words[0] in last) and _in_name_list(data, rs, run[-1][2]):
        return 0.6
    if in_first and not _sentence_initial(data, rs):
        return 0.5
    return 0.0


_HEADLINE_WORD = Pattern(r"\p{Lu}[\p{Lu}'\-]+")


def _headline_findings(data, span, first, last, places, common, add) -> None:  # type: ignore[no-untyped-def]
    """Places in a headline in capitals, looked up in title case: countries, regions, big cities
    and multi-word places only, since a headline has no case to tell 'JOBS' from 'Jobs'. A known
    given name followed by a known surname is a person."""
    words = [
        (data[a:b].decode("utf-8", "replace"), a, b) for (a, b), *_ in _HEADLINE_WORD.finditer(data, *span)
    ]
    titled = [w.title() for w, _, _ in words]
    i, n = 0, len(words)
    while i < n:
        for k in range(min(places.multi_first.get(titled[i], 1), n - i), 0, -1):
            name = " ".join(titled[i : i + k])
            kind = places.kinds.get(name)
            if kind is None or (k == 1 and (name.lower() in common or len(name) < 4)):
                continue
            if k > 1 or kind != "city" or name in places.major:
                add("LOCATION", words[i][1], words[i + k - 1][2], 0.6)
                i += k
                break
        else:
            a, b = titled[i].lower(), titled[i + 1].lower() if i + 1 < n else ""
            if a in first and b in last and a not in common and b not in common:
                add("PERSON", words[i][1], words[i + 1][2], 0.6)
                i += 2
                continue
            i += 1


# Before a capitalised word no list knows, these make it a place ('fighting near Taloqan').
_UNKNOWN_PLACE_CUES = frozenset(b"in near from outside".split())


def _unknown_place(data: bytes, s: int, low: str, first, last) -> bool:  # type: ignore[no-untyped-def]
    return low not in first and low not in last and _prev_word(data, s) in _UNKNOWN_PLACE_CUES


def _in_name_list(data: bytes, s: int, e: int) -> bool:
    """A word in a comma list of capitalised words ('Smith, Ponting, Warne and McGrath'): team
    sheets and results name players by surname alone."""
    before = data[max(0, s - 30) : s]
    after = data[e : e + 30]
    left = before.endswith((b", ", b" and ")) and _capitalised_tail(
        before.rstrip(b", ").removesuffix(b" and")
    )
    right = after.startswith((b", ", b" and ")) and after.lstrip(b", ").removeprefix(b"and ")[:1].isupper()
    return (left and right) or (left and before.count(b",") >= 2) or (right and after.count(b",") >= 2)


def _capitalised_tail(chunk: bytes) -> bool:
    words = chunk.split()
    return bool(words) and words[-1][:1].isupper()


def _after_place(data: bytes, ps: int, kinds: dict[str, str]) -> bool:
    """'Adelaide and Darwin': the word after a place joined by 'and' / 'or' is one too."""
    words = data[max(0, ps - 40) : ps].split()
    if len(words) < 2 or words[-1] not in (b"and", b"or"):
        return False
    return words[-2].rstrip(b",").decode("utf-8", "replace") in kinds


def _place_score(data, ps, pe, k, kind, low, first, last, common, followed, major, kinds) -> float:  # type: ignore[no-untyped-def]
    prev = _prev_word(data, ps)
    ctx = data[max(0, ps - 24) : ps].lower()
    person_like = k == 1 and (low in first or low in last)
    prepositions = _STRONG_PLACE_PREPOSITIONS if person_like else _PLACE_PREPOSITIONS
    cued = prev in prepositions or any(c in ctx for c in _PLACE_CUES) or _after_place(data, ps, kinds)
    followed_by_region = data[pe : pe + 2] == b", " and (
        data[pe + 2 : pe + 4] in _US_STATE_CODES and not data[pe + 4 : pe + 5].isalpha()
    )
    if prev in _TITLES:
        return 0.0
    if k == 1 and low in common:
        return 0.0  # 'March', 'Will', 'Mobile' without more context are words, not places
    if cued or followed_by_region:
        return 0.85
    if kind in ("country", "continent", "region"):
        return 0.45 if person_like and followed else 0.8
    if k > 1:
        return 0.75
    if major:
        return 0.0 if person_like and followed else 0.6
    return 0.0 if person_like else (0.45 if _sentence_initial(data, ps) else 0.55)


def _state_after(data: bytes, pe: int, add) -> None:  # type: ignore[no-untyped-def]
    if (
        data[pe : pe + 2] == b", "
        and data[pe + 2 : pe + 4] in _US_STATE_CODES
        and not data[pe + 4 : pe + 5].isalpha()
    ):
        add("LOCATION", pe + 2, pe + 4, 0.8)
