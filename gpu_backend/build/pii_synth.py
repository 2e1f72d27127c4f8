"""Seeded synthetic training sentences for the ``pii-ner`` token classifier, with character spans.

Only runtime data, no dev-only packages (no Faker): first and last names from the US Census lists
in the ``names`` package, places from the committed geonames extract
``layers/steward/python/steward/privacy/data/places.tsv.gz`` (read as a file: ``gpu_backend``
never imports ``steward``), and small lists here for European names and street forms. The
templates below are written for training only and share no sentence with the evaluation corpus
(``scripts/privacy_corpus.py``), so the corpus measures generalisation to unseen contexts; a test
checks the two template sets stay disjoint. Name and place *values* come from the same public
lists the fast path uses, as any gazetteer-trained NER would.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

PERSON, LOCATION, STREET_ADDRESS = "PERSON", "LOCATION", "STREET_ADDRESS"
ENTITY_TYPES = (PERSON, LOCATION, STREET_ADDRESS)
PLACES_FILE = Path(__file__).resolve().parents[2] / "layers/steward/python/steward/privacy/data/places.tsv.gz"

Segment = tuple[str, str | None]


@dataclass(frozen=True)
class Example:
    """One training text and its entity spans ``(start, end, type)`` in characters."""

    text: str
    spans: tuple[tuple[int, int, str], ...]


_EU_FIRST = (
    "Lukas",
    "Jonas",
    "Felix",
    "Anna",
    "Lena",
    "Hannah",
    "Jürgen",
    "Klaus",
    "Sabine",
    "Ute",
    "Matthias",
    "Camille",
    "Léa",
    "Chloé",
    "Théo",
    "Hugo",
    "Benoît",
    "Amélie",
    "Margaux",
    "Étienne",
    "Océane",
    "Lucía",
    "Alejandro",
    "Pablo",
    "Carmen",
    "Javier",
    "Inés",
    "Sofía",
    "Álvaro",
    "Rocío",
    "Giulia",
    "Francesca",
    "Luca",
    "Matteo",
    "Alessandro",
    "Chiara",
    "Giuseppe",
    "Bianca",
    "Daan",
    "Sem",
    "Femke",
    "Sanne",
    "Bram",
    "Thijs",
    "Eline",
    "Joost",
    "Oliver",
    "Harry",
    "Amelia",
    "Isla",
    "Alfie",
    "Freya",
    "Callum",
    "Niamh",
    "Siobhan",
    "Søren",
    "Astrid",
    "Björn",
    "Ingrid",
    "Piotr",
    "Katarzyna",
    "Tomasz",
    "Agnieszka",
)
_EU_LAST = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Becker",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Dubois",
    "Lefèvre",
    "Moreau",
    "Laurent",
    "Girard",
    "Bonnet",
    "Prévost",
    "Rousseau",
    "Fontaine",
    "García",
    "Fernández",
    "González",
    "Rodríguez",
    "López",
    "Martínez",
    "Sánchez",
    "Pérez",
    "Núñez",
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bakker",
    "Visser",
    "Smit",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Davies",
    "Evans",
    "O'Brien",
    "Nowak",
    "Kowalski",
    "Wiśniewski",
    "Andersen",
    "Nielsen",
    "Johansson",
    "Lindqvist",
)
_TITLES = ("Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Mr", "Mrs", "Dr", "Miss", "Sir", "Madam")
_US_SUFFIXES = (
    "Street",
    "St",
    "St.",
    "Avenue",
    "Ave",
    "Ave.",
    "Road",
    "Rd",
    "Lane",
    "Ln",
    "Drive",
    "Dr",
    "Boulevard",
    "Blvd",
    "Court",
    "Ct",
    "Way",
    "Place",
    "Pl",
    "Terrace",
    "Circle",
    "Parkway",
    "Highway",
    "Trail",
    "Square",
)
_STREET_WORDS = (
    "Main",
    "Oak",
    "Maple",
    "Cedar",
    "Pine",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Sunset",
    "Highland",
    "Church",
    "Mill",
    "River",
    "Spring",
    "Ridge",
    "Forest",
    "Meadow",
    "Willow",
    "Center",
    "Market",
    "Union",
    "Franklin",
    "Lincoln",
    "Jefferson",
    "Madison",
    "Jackson",
    "Walnut",
    "Chestnut",
    "First",
    "Second",
    "Third",
    "Fifth",
    "Tenth",
    "North",
    "South",
    "West",
    "East",
    "Broad",
    "Water",
)
# More USPS street suffixes (Publication 28, appendix C1), written out.
_USPS_MORE = (
    "Alley",
    "Bend",
    "Bluff",
    "Branch",
    "Bridge",
    "Brook",
    "Burg",
    "Bypass",
    "Camp",
    "Canyon",
    "Cape",
    "Causeway",
    "Cliff",
    "Club",
    "Common",
    "Corner",
    "Course",
    "Cove",
    "Creek",
    "Crest",
    "Crossing",
    "Dale",
    "Divide",
    "Estates",
    "Expressway",
    "Falls",
    "Ferry",
    "Fields",
    "Flat",
    "Flats",
    "Ford",
    "Forest",
    "Forge",
    "Fork",
    "Fort",
    "Freeway",
    "Gardens",
    "Gateway",
    "Glen",
    "Green",
    "Greens",
    "Grove",
    "Harbor",
    "Haven",
    "Heights",
    "Hills",
    "Hollow",
    "Island",
    "Isle",
    "Junction",
    "Key",
    "Knoll",
    "Knolls",
    "Landing",
    "Light",
    "Lights",
    "Loaf",
    "Lock",
    "Locks",
    "Lodge",
    "Loop",
    "Mall",
    "Manor",
    "Meadows",
    "Mews",
    "Mill",
    "Mills",
    "Mission",
    "Mount",
    "Mountain",
    "Neck",
    "Orchard",
    "Oval",
    "Pass",
    "Path",
    "Pike",
    "Pines",
    "Plains",
    "Plaza",
    "Point",
    "Points",
    "Port",
    "Prairie",
    "Ranch",
    "Rapids",
    "Rest",
    "Ridge",
    "River",
    "Route",
    "Row",
    "Run",
    "Shoal",
    "Shore",
    "Shores",
    "Skyway",
    "Springs",
    "Spur",
    "Spurs",
    "Station",
    "Stravenue",
    "Stream",
    "Summit",
    "Trace",
    "Track",
    "Tunnel",
    "Turnpike",
    "Underpass",
    "Valley",
    "Via",
    "Viaduct",
    "View",
    "Village",
    "Ville",
    "Vista",
    "Walk",
    "Wells",
)
_TOWN_PREFIXES = ("", "", "", "New ", "Lake ", "East ", "West ", "North ", "South ", "Port ", "Mount ")
_TOWN_SUFFIXES = (
    "ville",
    "bury",
    "stad",
    "town",
    "ton",
    "chester",
    "side",
    "view",
    "haven",
    "berg",
    "mouth",
    "land",
    "port",
    "fort",
    "borough",
    "field",
    "furt",
    "burgh",
    "shire",
    "",
)
_UNITS = ("Apt. {n}", "Apt {n}", "Suite {n}", "Unit {n}", "#{n}", "Apartment {n}", "Ste {n}", "Fl {n}")
_STATES = (
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "WA",
    "WV",
    "WI",
    "WY",
)
_UK_STREETS = (
    "High Street",
    "Station Road",
    "Church Lane",
    "Victoria Road",
    "Green Lane",
    "Manor Way",
    "Park Avenue",
    "Queen's Road",
    "Mill Close",
    "Kings Crescent",
    "Rose Gardens",
    "The Grove",
)
_UK_FLATS = ("Flat {n}", "Flat {n}{l}", "Studio {n}", "{n}{l}")
_DE_STEMS = (
    "Haupt",
    "Bahnhof",
    "Schiller",
    "Goethe",
    "Garten",
    "Kirch",
    "Linden",
    "Berg",
    "Wald",
    "Mozart",
    "Beethoven",
    "Rosen",
    "Schul",
    "Dorf",
    "Markt",
    "Friedrich",
    "Bismarck",
)
_DE_SUFFIXES = ("straße", "str.", "weg", "platz", "allee", "gasse", "ring", "damm", "ufer")
_FR_TYPES = ("rue", "avenue", "boulevard", "place", "impasse", "allée", "chemin", "quai")
_FR_NAMES = (
    "de la Paix",
    "Victor Hugo",
    "de Rivoli",
    "Jean Jaurès",
    "du Général de Gaulle",
    "Pasteur",
    "des Lilas",
    "de la République",
    "Voltaire",
    "Émile Zola",
    "du Moulin",
)
_ES_IT = (
    "Calle Mayor {n}",
    "Calle de Alcalá {n}",
    "Avenida de la Constitución {n}",
    "Via Roma {n}",
    "Via Garibaldi {n}",
    "Corso Vittorio Emanuele {n}",
    "Plaza de España {n}",
    "Piazza Dante {n}",
)
_LANGUAGES = (
    "French",
    "Spanish",
    "German",
    "English",
    "Italian",
    "Dutch",
    "Japanese",
    "Chinese",
    "Korean",
    "Portuguese",
    "Russian",
    "Arabic",
    "Hindi",
    "Polish",
    "Swedish",
    "Greek",
    "Turkish",
)
_MONTHS = (
    "Jan",
    "February",
    "March",
    "Apr",
    "May",
    "June",
    "July",
    "Aug",
    "Sept",
    "October",
    "Nov",
    "December",
)
_ORGS = (
    "Apple",
    "Google",
    "Microsoft",
    "Amazon",
    "Oracle",
    "Salesforce",
    "Adobe",
    "Tesla",
    "Netflix",
    "Spotify",
    "Slack",
    "Zoom",
    "GitHub",
    "Jira",
    "Confluence",
    "Excel",
    "Windows",
    "Linux",
    "Python",
    "Kubernetes",
    "Docker",
    "Postgres",
    "Redis",
    "Kafka",
    "Terraform",
    "Stripe",
    "PayPal",
    "Visa",
)
_CAPITALISED = (
    "Budget",
    "Review",
    "Roadmap",
    "Sales",
    "Marketing",
    "Finance",
    "Legal",
    "Support",
    "Engineering",
    "Monday",
    "Tuesday",
    "Friday",
    "January",
    "March",
    "June",
    "October",
    "December",
    "Summer",
    "Winter",
    "Q3",
    "Board",
    "Committee",
    "Release",
    "Update",
    "Policy",
    "Agenda",
    "Invoice",
    "Will",
    "Mark",
    "Grant",
    "Bill",
    "Rose",
    "Faith",
    "Hope",
    "May",
    "April",
    "Bishop",
    "Major",
)

# Slots: {person} {first} {last} {location} {city} {country} {street_address}; and unlabelled
# distractors {org} {word} {number} {email} {phone}.
TEMPLATES: tuple[str, ...] = (
    "Could you check the order history for {person}?",
    "{person} asked for a callback regarding the refund.",
    "I am writing on behalf of {person}, who cannot attend.",
    "Thanks {first}, I will look into it today.",
    "Hello {first}, your package is on its way.",
    "The report was reviewed by {person} and {person}.",
    "Escalate this ticket to {person} in the {word} team.",
    "According to {person}, the invoice was paid twice.",
    "{title} {last} will see you at three.",
    "Please ask {title} {last} to sign the form.",
    "Patient name: {person}",
    "Name: {person}, age {number}",
    "From: {person}\nSubject: {word} {word}",
    "Regards, {first}",
    "Cheers,\n{person}",
    "{person} reported the bug in {org} last sprint.",
    "The account holder is {person}.",
    "Attendees: {person}, {person}, {person}.",
    "Interview with {person} rescheduled to {word}.",
    "Hey {first}, can {first} borrow your charger?",
    "My colleague {person} recommended your service.",
    "Signed, {person}",
    "We visited {location} last summer.",
    "The warehouse in {city} is closed for inventory.",
    "Our team is split between {city} and {city}.",
    "Temperatures in {location} will drop tonight.",
    "Is {city} a good place to raise kids?",
    "Shipping to {country} takes about two weeks.",
    "She grew up near {city}, {country}.",
    "Hotels in {city} are fully booked this weekend.",
    "The train from {city} arrives late.",
    "Our customers in {country} prefer bank transfers.",
    "He commutes from {city} every day.",
    "What is the population of {location}?",
    "Revenue in {location} fell by {number} percent.",
    "Located in {city}, the clinic opens at nine.",
    "I'm travelling to {location} for a wedding.",
    "Branch offices: {city}, {city} and {city}.",
    "Deliver the parcel to {street_address} before noon.",
    "Our new address: {street_address}",
    "Mail the cheque to {street_address}, attention {person}.",
    "The tenant at {street_address} complained about noise.",
    "Pick me up at {street_address} at six.",
    "Return address: {street_address}",
    "Send samples to {person}, {street_address}.",
    "The meeting moved to {street_address} in {city}.",
    "I moved from {street_address} last month.",
    "{person} lives at {street_address}.",
    "Visit us at {street_address}, {city}.",
    "The {org} integration broke after the {word} update.",
    "Schedule the {word} {word} for next {word}.",
    "Ping {email} or call {phone} if the build fails.",
    "Ticket {number}: the {org} export is empty.",
    "{word} notes: the {word} and {word} teams agreed.",
    "Can {org} import data from {org}?",
    "Please {word} the draft before {word}.",
    "The score was {number} to {number} at half time.",
    "Reset the password for user {number} via {org}.",
    "{word} {word} is planned for {word}.",
    "How do I merge two branches in {org}?",
    "The quick brown fox jumps over the lazy dog.",
    "Log line: {tech} {tech} status={number}",
    "Why does the client reject {tech}?",
    "Is {tech} a valid value for this field?",
    "The record {tech} was updated on {tech}.",
    "Forward it to {email}; cc {email}.",
    "Text me at {phone} or write to {email}.",
    "Error {number} from host {tech} at {tech}.",
    "Config: key={tech} secret={tech}",
    "Can you translate this into {lang} and {lang}?",
    "The {lang} version of the manual is outdated.",
    "{person} can be reached at {email} or {phone}.",
    "Account {tech} belongs to {person} in {city}.",
    "Charge {tech} and ship to {street_address}.",
    "User {tech} logged in from {city} at {tech}.",
    "Her username is {tech} and she speaks {lang}.",
    "Summarize this paragraph in three bullet points.",
)

# Sentences that carry identifiers, contact data and secrets (all unlabelled for this model).
DISTRACTOR_TEMPLATES = tuple(
    t for t in TEMPLATES if any(k in t for k in ("{tech}", "{email}", "{phone}", "{lang}"))
)


def _census(filename: str, top: int) -> list[str]:
    rows = resources.files("names").joinpath(filename).read_text(encoding="utf-8").splitlines()[:top]
    return [row.split()[0].title() for row in rows]


def _places(path: Path) -> tuple[list[str], list[str], list[str]]:
    """(cities, the 2,000 most populous cities, countries/regions/continents) from the extract."""
    cities: list[tuple[int, str]] = []
    others: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            name, kind, population = [*line.rstrip("\n").split("\t"), "0"][:3]
            if kind == "city":
                cities.append((int(population or 0), name))
            else:
                others.append(name)
    big = [name for _, name in sorted(cities, key=lambda c: (-c[0], c[1]))[:2000]]
    return [name for _, name in cities], big, others


class Generator:
    """Draws labelled sentences from ``TEMPLATES`` with a private ``random.Random(seed)``."""

    def __init__(self, seed: int, places_file: Path = PLACES_FILE) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible training data, not secrets
        self.first_names = _census("dist.male.first", 1219) + _census("dist.female.first", 2000)
        self.last_names = _census("dist.all.last", 8000)
        self.cities, self.big_cities, self.regions = _places(places_file)

    # --- values -------------------------------------------------------------------------------
    def first(self) -> str:
        if self.rng.random() < 0.2:
            return self.rng.choice(_EU_FIRST)
        return self.rng.choice(self.first_names[:600] if self.rng.random() < 0.6 else self.first_names)

    def last(self) -> str:
        if self.rng.random() < 0.2:
            return self.rng.choice(_EU_LAST)
        return self.rng.choice(self.last_names[:1500] if self.rng.random() < 0.6 else self.last_names)

    def person(self) -> list[Segment]:
        r = self.rng.random()
        if r < 0.6:
            return [(f"{self.first()} {self.last()}", PERSON)]
        if r < 0.7:
            middle = self.rng.choice([f"{self.first()[0]}.", self.first()])
            return [(f"{self.first()} {middle} {self.last()}", PERSON)]
        if r < 0.85:
            return [(f"{self.rng.choice(_TITLES)} ", None), (self.last(), PERSON)]
        return [(self.first(), PERSON)]

    def city(self) -> str:
        return self.rng.choice(self.big_cities if self.rng.random() < 0.6 else self.cities)

    def location(self) -> list[Segment]:
        r = self.rng.random()
        if r < 0.6:
            return [(self.city(), LOCATION)]
        if r < 0.85:
            return [(self.rng.choice(self.regions), LOCATION)]
        return [(self.city(), LOCATION), (", ", None), (self.rng.choice(self.regions), LOCATION)]

    def street_address(self) -> str:
        rng = self.rng
        n = rng.randint(1, 9999) if rng.random() < 0.7 else rng.randint(1, 99)
        r = rng.random()
        if r < 0.55:
            name = rng.choice([rng.choice(_STREET_WORDS), self.last(), self.first()])
            prefix = rng.choice(["", "", "", "N ", "S ", "E ", "W ", "North ", "West "])
            suffix = rng.choice(_US_SUFFIXES if rng.random() < 0.6 else _USPS_MORE)
            number = str(n) if rng.random() < 0.8 else f"{rng.randint(0, 99999):05d}"
            out = f"{number} {prefix}{name} {suffix}"
            if rng.random() < 0.3:
                out += " " + rng.choice(_UNITS).format(n=rng.randint(1, 999))
            if rng.random() < 0.5:
                sep = rng.choice([", ", ", ", " "])
                out += f"{sep}{self.town()}, {rng.choice(_STATES)} {rng.randint(0, 99999):05d}"
            return out
        if r < 0.7:
            flat = rng.choice(_UK_FLATS).format(n=rng.randint(1, 80), l=rng.choice("ABCD"))
            out = f"{n} {rng.choice(_UK_STREETS)}"
            if rng.random() < 0.4:
                out = f"{flat}, {out}"
            if rng.random() < 0.6:
                area = f"{rng.choice(['SW', 'N', 'EC', 'M', 'B', 'LS', 'G'])}{rng.randint(1, 20)}"
                postcode = f"{area} {rng.randint(1, 9)}{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTU')}"
                out += f", {self.city()} {postcode}"
            return out
        if r < 0.85:
            stem = rng.choice([rng.choice(_DE_STEMS), self.last(), f"{self.first()}-{self.last()}-"])
            suffix = rng.choice(_DE_SUFFIXES)
            if stem.endswith("-"):
                suffix = suffix.capitalize()
            number = f"{n % 200 + 1}" if rng.random() < 0.7 else f"{n % 200 + 1}-{rng.randint(1, 99)}"
            out = f"{stem}{suffix} {number}"
            if rng.random() < 0.5:
                out += f", {rng.randint(10000, 99999)} {self.city()}"
            return out
        if r < 0.95:
            name = rng.choice(
                [rng.choice(_FR_NAMES), f"{self.first()} {self.last()}", f"de {self.last()}", self.last()]
            )
            out = f"{n % 200 + 1}{rng.choice([' ', ', '])}{rng.choice(_FR_TYPES)} {name}"
            if rng.random() < 0.5:
                out += f", {rng.randint(10, 95)}{rng.randint(100, 999)} {self.city()}"
            return out
        return rng.choice(_ES_IT).format(n=n % 300 + 1)

    def town(self) -> str:
        """A real city or a made-up town name (addresses are often in places no gazetteer lists)."""
        if self.rng.random() < 0.5:
            return self.rng.choice(self.big_cities)
        stem = self.rng.choice([self.first(), self.last()])
        return f"{self.rng.choice(_TOWN_PREFIXES)}{stem}{self.rng.choice(_TOWN_SUFFIXES)}"

    def distractor(self, slot: str) -> str:
        rng = self.rng
        if slot == "org":
            return rng.choice(_ORGS)
        if slot == "word":
            return rng.choice(_CAPITALISED)
        if slot == "number":
            return str(rng.randint(1, 99999))
        if slot == "lang":
            return rng.choice(_LANGUAGES)
        if slot == "email":
            return self.email()
        if slot == "phone":
            return self.phone()
        return self.tech()

    def email(self) -> str:
        rng = self.rng
        first, last = self.first().lower(), self.last().lower().replace(" ", "")
        user = rng.choice(
            [f"{first}.{last}", f"{first[0]}{last}", f"{last}{first}", f"{first}{rng.randint(1, 99)}"]
        )
        domain = rng.choice(
            ["example.com", "mail.example.org", "corp.example.net", "gmail.com", "outlook.de"]
        )
        return f"{user}@{domain}" if rng.random() < 0.85 else f"{user} [at] {domain.replace('.', ' [dot] ')}"

    def phone(self) -> str:
        rng = self.rng
        d = self._digits
        return rng.choice(
            [
                f"+1 ({d(3)}) {d(3)}-{d(4)}",
                f"{d(3)}-{d(3)}-{d(4)}",
                f"+44 20 {d(4)} {d(4)}",
                f"+49 30 {d(8)}",
                f"06 {d(2)} {d(2)} {d(2)} {d(2)}",
                f"0{d(4)} {d(6)}",
                f"+33 {d(1)} {d(2)} {d(2)} {d(2)} {d(2)}",
            ]
        )

    def _chars(self, k: int, alphabet: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(k))

    def _digits(self, k: int) -> str:
        return self._chars(k, "0123456789")

    def _hex(self, k: int) -> str:
        return self._chars(k, "0123456789abcdef")

    def tech(self) -> str:
        """Identifiers, numbers and secrets: the shapes prompts carry that are no names or places."""
        rng = self.rng
        hexs = self._hex
        alnum = self._chars
        digits = self._digits
        kind = rng.randrange(16)
        if kind == 0:
            return f"{rng.randint(1, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"
        if kind == 1:
            return ":".join(hexs(4) for _ in range(rng.randint(3, 8)))
        if kind == 2:
            return rng.choice([":", "-"]).join(hexs(2).upper() for _ in range(6))
        if kind == 3:
            return f"{alnum(2, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')}{digits(2)} " + " ".join(
                alnum(4) for _ in range(4)
            )
        if kind == 4:
            return " ".join(digits(4) for _ in range(4)) if rng.random() < 0.5 else digits(16)
        if kind == 5:
            return f"{digits(3)}-{digits(2)}-{digits(4)}"
        if kind == 6:
            return "AKIA" + alnum(16)
        if kind == 7:
            cs = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            return alnum(rng.randint(20, 40), cs)
        if kind == 8:
            return (
                "eyJ"
                + alnum(20, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789")
                + "."
                + alnum(30, "abcdefghijklmnopqrstuvwxyz0123456789_-")
            )
        if kind == 9:
            host = f"{rng.choice(['www.', 'docs.', ''])}{rng.choice(_ORGS).lower()}.example.com"
            return f"https://{host}/{rng.choice(['help', 'v2/api', 'login', 'status'])}"
        if kind == 10:
            return rng.choice(
                [
                    f"{rng.randint(1, 28)}/{rng.randint(1, 12)}/{rng.randint(1950, 2030)}",
                    f"{rng.randint(1950, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    f"{rng.choice(_MONTHS)} {rng.randint(1, 28)}, {rng.randint(1950, 2030)}",
                    f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d} {rng.choice(['am', 'pm', 'PM'])}",
                ]
            )
        if kind == 11:
            return f"${rng.randint(1, 99999):,}.{rng.randint(0, 99):02d}"
        if kind == 12:
            return f"{rng.choice(['bc1q', '1', '3'])}{alnum(30, 'abcdefghijkmnpqrstuvwxyz023456789')}"
        if kind == 13:
            return (
                f"{self.first().lower()}_{hexs(4)}"
                if rng.random() < 0.5
                else f"{self.last().lower()}{rng.randint(1, 999)}"
            )
        if kind == 14:
            return rng.choice(
                ["v1.2.3", "ORD-" + digits(6), "INV" + digits(8), "#" + digits(5), "SKU " + alnum(8)]
            )
        return rng.choice(
            [
                "password=" + alnum(12, "abcdefXYZ0123456789!#%"),
                "Bearer " + alnum(32),
                "-----BEGIN PRIVATE KEY-----",
            ]
        )

    # --- sentences ----------------------------------------------------------------------------
    def segments(self, template: str) -> list[Segment]:
        out: list[Segment] = []
        rest = template
        while "{" in rest:
            pre, _, tail = rest.partition("{")
            slot, _, rest = tail.partition("}")
            out.append((pre, None))
            if slot == "person":
                out.extend(self.person())
            elif slot == "first":
                out.append((self.first(), PERSON))
            elif slot == "last":
                out.append((self.last(), PERSON))
            elif slot == "title":
                out.append((self.rng.choice(_TITLES), None))
            elif slot == "location":
                out.extend(self.location())
            elif slot == "city":
                out.append((self.city(), LOCATION))
            elif slot == "country":
                out.append((self.rng.choice(self.regions), LOCATION))
            elif slot == "street_address":
                out.append((self.street_address(), STREET_ADDRESS))
            else:
                out.append((self.distractor(slot), None))
        out.append((rest, None))
        return out

    def example(self) -> Example:
        parts: list[Segment] = []
        for k in range(self.rng.choice([1, 1, 2, 2, 3])):
            if k:
                parts.append((self.rng.choice([" ", " ", "\n"]), None))
            template = self.rng.choice(TEMPLATES if self.rng.random() < 0.65 else DISTRACTOR_TEMPLATES)
            if self.rng.random() < 0.1:
                template = template.lower()  # users do not always capitalise
            parts.extend(self.segments(template))
        text, spans, pos = "", [], 0
        for chunk, label in parts:
            if label is not None and chunk:
                spans.append((pos, pos + len(chunk), label))
            text += chunk
            pos += len(chunk)
        return Example(text, tuple(spans))

    def examples(self, n: int) -> list[Example]:
        return [self.example() for _ in range(n)]
