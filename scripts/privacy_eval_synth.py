"""EVALUATION ONLY: a second synthetic PII generator, independent of Steward's tuning corpus.

Nothing in Steward's detectors or model build may be trained, tuned or have rules picked on this
data; it exists so the accuracy figures are measured on text the detectors were not written
against. It differs from ``scripts/privacy_corpus.py`` (the tuning corpus) on purpose:

- its templates (``EVAL_TEMPLATES``, below) were written separately, in other genres (CRM notes,
  clinic letters, travel bookings, HR forms, chat, news briefs, sports and history prose), and a
  unit test checks they share no sentence with the tuning or the training templates;
- its values come from Faker in 39 locales (37 Latin-script, 2 romanised): locale-native names,
  cities (from the 21 locales whose Faker cities are real places), street addresses, phone
  numbers with and without country codes and extensions (kept when libphonenumber finds them
  valid for the region), IBANs, e-mail addresses; not from the census name lists or
  hand-written phone formats;
- its card numbers cover 11 brands and lengths (Visa 13/16/19, Mastercard, Amex, Discover, JCB
  15/16, Diners, Maestro, UnionPay), written in several groupings;
- its dates use each locale's numeric order and English long forms, ordinals and ranges;
- its hard negatives are shapes met in prose: bare years, sport scores, counts, ISBNs, version
  numbers, order and flight numbers, prices.

Labelling rules (the same for every system scored): a bare year, a weekday or month alone and
relative dates are not DATE_TIME (a year alone identifies no one: HIPAA Safe Harbor keeps years);
titles (``Dr.``) are outside PERSON spans; a street address is one STREET_ADDRESS span from the
house number to the postcode/town, and the towns, countries and regions outside addresses are
LOCATION.

    .venv/bin/python scripts/privacy_eval_synth.py --seed 1301 --n 1000 --out .steward/eval_synth.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import phonenumbers
from faker import Faker

Segment = tuple[str, str | None]
Record = dict[str, object]

DEFAULT_SEED = 1301

# Latin-script locales (the text is English prose; names and places keep their native spelling).
NAME_LOCALES = (
    "en_US", "en_GB", "en_IE", "en_AU", "en_NZ", "en_CA", "en_IN", "de_DE", "de_AT", "de_CH", "fr_FR",
    "fr_CA", "fr_CH", "es_ES", "es_MX", "es_AR", "es_CO", "it_IT", "nl_NL", "nl_BE", "pt_BR", "pt_PT",
    "pl_PL", "sv_SE", "da_DK", "no_NO", "fi_FI", "cs_CZ", "sk_SK", "hu_HU", "ro_RO", "tr_TR", "id_ID",
    "hr_HR", "sl_SI", "lt_LT", "zu_ZA",
)  # fmt: skip
ROMANISED_LOCALES = ("ja_JP", "zh_CN")  # names only, through Faker's romanised providers
# Locales whose Faker address is the locale's own (others fall back to US shapes).
ADDRESS_LOCALES = (
    "en_US", "en_GB", "en_IE", "en_AU", "en_NZ", "en_CA", "en_IN", "de_DE", "de_AT", "de_CH", "fr_FR",
    "fr_CA", "fr_CH", "es_ES", "es_MX", "es_AR", "es_CO", "it_IT", "nl_NL", "nl_BE", "pt_BR", "pt_PT",
    "pl_PL", "sv_SE", "da_DK", "no_NO", "fi_FI", "cs_CZ", "sk_SK", "hu_HU", "ro_RO", "id_ID", "hr_HR",
    "sl_SI",
)  # fmt: skip
PHONE_LOCALES = tuple(loc for loc in NAME_LOCALES if loc not in ("zu_ZA",))
# Locales whose Faker city is a real place (the others build names like "North Christopherburgh").
CITY_LOCALES = (
    "en_IN", "de_DE", "de_AT", "de_CH", "es_ES", "es_AR", "es_CO", "it_IT", "nl_NL", "nl_BE", "pt_PT",
    "pl_PL", "sv_SE", "da_DK", "fi_FI", "cs_CZ", "sk_SK", "ro_RO", "id_ID", "hr_HR", "sl_SI",
)  # fmt: skip
# Locales of IBAN countries whose Faker IBAN has the country code and length (es_AR is left out:
# Faker makes "AR" IBANs, but Argentina has none).
IBAN_LOCALES = (
    "en_GB", "en_IE", "de_DE", "de_AT", "de_CH", "fr_FR", "fr_CH", "es_ES", "it_IT", "nl_NL", "nl_BE",
    "pt_PT", "pl_PL", "da_DK", "no_NO", "fi_FI", "cs_CZ", "sk_SK", "ro_RO", "tr_TR", "pt_BR",
)  # fmt: skip
REGION_LOCALES = ("en_US", "en_AU", "en_CA", "en_IN", "de_DE", "fr_FR", "it_IT", "pt_BR", "es_MX")
CARD_BRANDS = (
    "visa13", "visa16", "visa19", "mastercard", "amex", "discover", "jcb15", "jcb16", "diners", "maestro",
    "unionpay",
)  # fmt: skip
# Numeric date order by locale family; English long forms are drawn for every locale.
NUMERIC_DATES = {
    "en_US": ("%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y"),
    "en_CA": ("%Y-%m-%d", "%m/%d/%Y"),
    "de": ("%d.%m.%Y", "%d.%m.%y"),
    "pl": ("%d.%m.%Y",),
    "cs": ("%d. %m. %Y", "%d.%m.%Y"),
    "hu": ("%Y. %m. %d.", "%Y.%m.%d"),
    "sv": ("%Y-%m-%d",),
    "nl": ("%d-%m-%Y",),
    "ja": ("%Y/%m/%d",),
    "other": ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y"),
}
# Fixed bounds: Faker's relative bounds ("-30y") move with the clock and would break the seed.
FIRST_DAY, LAST_DAY = date(1935, 1, 1), date(2027, 12, 31)
FIRST_TIME, LAST_TIME = datetime(1995, 1, 1), datetime(2026, 12, 31, 23, 59)
LONG_DATES = (
    "%d %B %Y", "%B %d, %Y", "%A, %d %B %Y", "%a %d %b %Y", "%b %d %Y", "%d %b %Y", "%B %Y",
    "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%Y-%m-%dT%H:%M:%SZ",
)  # fmt: skip


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    """A number of ``length`` digits starting with ``prefix`` whose Luhn check digit is right.

    Hand-written because Faker has no UnionPay generator; the check is the standard mod-10 sum."""
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # doubled: the check digit will sit to the right of this one
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def _valid_phone(value: str, region: str) -> bool:
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(value, region)))
    except phonenumbers.NumberParseException:
        return False


def iban_is_valid(value: str) -> bool:
    """ISO 13616 mod-97 check (a few lines; Faker's IBANs are checked, not trusted)."""
    compact = value.replace(" ", "")
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


class EvalValues:
    """Draws labelled values; every draw goes through one ``random.Random(seed)`` and Faker
    instances seeded from it, so a seed fixes the output."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # reproducible evaluation data, not secrets
        every = sorted({*NAME_LOCALES, *ROMANISED_LOCALES, *ADDRESS_LOCALES, *IBAN_LOCALES})
        self.fakers: dict[str, Faker] = {}
        for i, loc in enumerate(every):
            fake = Faker(loc)
            fake.seed_instance(seed * 1000 + i)
            self.fakers[loc] = fake
        self.en = self.fakers["en_US"]
        # Faker's it_IT city list is built from a set, so its order (and a seeded draw from it)
        # changes with PYTHONHASHSEED: draw from a sorted copy instead.
        self.city_lists = {
            loc: sorted({c for p in self.fakers[loc].providers for c in getattr(p, "cities", ())})
            for loc in ("it_IT",)
        }

    def _faker(self, pool: tuple[str, ...]) -> tuple[str, Faker]:
        loc = self.rng.choice(pool)
        return loc, self.fakers[loc]

    # --- people and places -------------------------------------------------------------------
    def _name(self) -> tuple[str, str]:
        if self.rng.random() < 0.1:
            fake = self.fakers[self.rng.choice(ROMANISED_LOCALES)]
            return fake.first_romanized_name(), fake.last_romanized_name()
        _, fake = self._faker(NAME_LOCALES)
        return fake.first_name(), fake.last_name()

    def person(self) -> list[Segment]:
        first, last = self._name()
        r = self.rng.random()
        if r < 0.6:
            return [(f"{first} {last}", "PERSON")]
        if r < 0.72:
            return [(f"{first} {self.rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}", "PERSON")]
        if r < 0.86:
            title = self.rng.choice(["Dr. ", "Mr ", "Ms. ", "Mrs ", "Prof. ", "Dr "])
            return [(title, None), (last, "PERSON")]
        return [(f"{last}, {first}", "PERSON")]

    def first(self) -> list[Segment]:
        return [(self._name()[0], "PERSON")]

    def surname(self) -> list[Segment]:
        return [(self._name()[1], "PERSON")]

    def person_upper(self) -> list[Segment]:
        first, last = self._name()
        return [(f"{first} {last}".upper(), "PERSON")]

    def city(self) -> list[Segment]:
        loc, fake = self._faker(CITY_LOCALES)
        if loc in self.city_lists:
            return [(self.rng.choice(self.city_lists[loc]), "LOCATION")]
        return [(fake.city(), "LOCATION")]

    def country(self) -> list[Segment]:
        return [(self.en.country(), "LOCATION")]

    def region(self) -> list[Segment]:
        loc = self.rng.choice(
            ("en_US", "en_AU", "en_CA", "en_IN", "de_DE", "fr_FR", "it_IT", "pt_BR", "es_MX")
        )
        fake = self.fakers[loc]
        return [(fake.administrative_unit(), "LOCATION")]

    def place(self) -> list[Segment]:
        r = self.rng.random()
        return self.city() if r < 0.55 else self.country() if r < 0.8 else self.region()

    def address(self) -> list[Segment]:
        _, fake = self._faker(ADDRESS_LOCALES)
        lines = [line.strip() for line in fake.address().splitlines() if line.strip()]
        return [(", ".join(lines).replace(" ,", ","), "STREET_ADDRESS")]

    # --- contact ------------------------------------------------------------------------------
    def phone(self) -> list[Segment]:
        """A Faker number in its locale's format, kept only if libphonenumber finds it valid for
        the locale's region: Faker also emits numbers no line can have (NANP area codes starting
        with 1, the UK's drama range), and real text holds real numbers."""
        while True:
            loc, fake = self._faker(PHONE_LOCALES)
            for _ in range(20):
                value = fake.phone_number()
                if _valid_phone(value, loc.split("_")[1]):
                    return [(value, "PHONE_NUMBER")]

    def email(self) -> list[Segment]:
        _, fake = self._faker(NAME_LOCALES)
        value = fake.company_email() if self.rng.random() < 0.3 else fake.email()
        return [(value, "EMAIL_ADDRESS")]

    def url(self) -> list[Segment]:
        r = self.rng.random()
        fake = self.en
        if r < 0.5:
            return [(fake.url() + self.rng.choice(["", "login", "account/settings", "help?id=42"]), "URL")]
        return [(fake.uri(), "URL")]

    def ip(self) -> list[Segment]:
        r = self.rng.random()
        fake = self.en
        if r < 0.45:
            return [(fake.ipv4_public(), "IP_ADDRESS")]
        if r < 0.75:
            return [(fake.ipv4_private(), "IP_ADDRESS")]
        return [(fake.ipv6(), "IP_ADDRESS")]

    # --- money and ids ------------------------------------------------------------------------
    def card(self) -> list[Segment]:
        brand = self.rng.choice(CARD_BRANDS)
        if brand == "unionpay":
            number = luhn_complete(
                "62" + str(self.rng.randint(2126, 8889)), self.rng.choice([16, 17, 18, 19]), self.rng
            )
        else:
            number = self.en.credit_card_number(brand)
            while brand == "jcb16" and not 3528 <= int(number[:4]) <= 3589:
                number = self.en.credit_card_number(brand)  # Faker strays outside JCB's 3528-3589
        style = self.rng.random()
        if style < 0.35:
            return [(number, "CREDIT_CARD")]
        if len(number) in (14, 15):  # Amex, Diners and JCB 15 are written 4-6-5 / 4-6-4
            groups = [number[:4], number[4:10], number[10:]]
        else:
            groups = [number[i : i + 4] for i in range(0, len(number), 4)]
        return [(("-" if style < 0.55 else " ").join(groups), "CREDIT_CARD")]

    def iban(self) -> list[Segment]:
        _, fake = self._faker(IBAN_LOCALES)
        value = fake.iban()
        while not iban_is_valid(value):
            value = fake.iban()
        if self.rng.random() < 0.5:
            value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        return [(value, "IBAN_CODE")]

    def ssn(self) -> list[Segment]:
        value = self.en.ssn()
        r = self.rng.random()
        if r < 0.15:
            value = value.replace("-", " ")
        elif r < 0.25:
            value = value.replace("-", "")
        return [(value, "US_SSN")]

    def when(self) -> list[Segment]:
        loc, fake = self._faker(NAME_LOCALES)
        day: date = fake.date_between(start_date=FIRST_DAY, end_date=LAST_DAY)
        r = self.rng.random()
        if r < 0.4:
            family = loc if loc in NUMERIC_DATES else loc[:2] if loc[:2] in NUMERIC_DATES else "other"
            return [(day.strftime(self.rng.choice(NUMERIC_DATES[family])), "DATE_TIME")]
        if r < 0.8:
            value = fake.date_time_between(start_date=FIRST_TIME, end_date=LAST_TIME)
            return [(value.strftime(self.rng.choice(LONG_DATES)), "DATE_TIME")]
        if r < 0.9:
            suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(day.day, "th")
            return [(f"{day.day}{suffix} of {day:%B %Y}", "DATE_TIME")]
        end = min(day.day + self.rng.randint(1, 6), 28)
        start = min(day.day, end - 1)
        return [(f"{start}–{end} {day:%B %Y}", "DATE_TIME")]  # noqa: RUF001 - en dash, as printed

    # --- hard negatives (unlabelled) ----------------------------------------------------------
    def year(self) -> list[Segment]:
        return [(str(self.rng.randint(1850, 2030)), None)]

    def score(self) -> list[Segment]:
        rng = self.rng
        r = rng.random()
        if r < 0.4:
            return [(f"{rng.randint(0, 6)}-{rng.randint(0, 6)}", None)]
        if r < 0.7:
            return [(f"{rng.randint(60, 130)}-{rng.randint(60, 130)}", None)]
        return [(f"{rng.randint(0, 7)}-{rng.randint(0, 7)}, {rng.randint(0, 7)}-{rng.randint(0, 7)}", None)]

    def count(self) -> list[Segment]:
        n = self.rng.randint(1_000, 9_999_999)
        return [(f"{n:,}" if self.rng.random() < 0.6 else f"{n:,}".replace(",", " "), None)]

    def isbn(self) -> list[Segment]:
        body = "978" + "".join(str(self.rng.randint(0, 9)) for _ in range(9))
        check = (10 - sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body)) % 10) % 10
        digits = body + str(check)
        return [(f"{digits[:3]}-{digits[3]}-{digits[4:8]}-{digits[8:12]}-{digits[12]}", None)]

    def version(self) -> list[Segment]:
        rng = self.rng
        return [(f"{rng.randint(1, 19)}.{rng.randint(0, 40)}.{rng.randint(0, 300)}", None)]

    def order_no(self) -> list[Segment]:
        rng = self.rng
        shapes = (
            f"#{rng.randint(10000, 999999)}",
            f"ORD-{rng.randint(2015, 2026)}-{rng.randint(10000, 99999)}",
            str(rng.randint(100000000000, 999999999999)),
        )
        return [(rng.choice(shapes), None)]

    def flight(self) -> list[Segment]:
        code = self.rng.choice(["LH", "BA", "AF", "QF", "NH", "EK", "KL", "IB", "AZ", "SK"])
        return [(f"{code} {self.rng.randint(10, 9999)}", None)]

    def price(self) -> list[Segment]:
        _, fake = self._faker(("en_US", "en_GB", "de_DE", "fr_FR", "pl_PL", "en_IN", "pt_BR"))
        return [(fake.pricetag(), None)]


# EVALUATION-ONLY templates: written for this generator, never used for tuning or training.
# Slots: {kind}; literal text around them is unlabelled.
EVAL_TEMPLATES: tuple[str, ...] = (
    # CRM and support notes
    "Customer {person} phoned from {city} about a double charge on {card}.",
    "Callback requested: {person}, mobile {phone}, best reached in the evening.",
    "Note from the branch: {first} could not verify her identity, so no changes were made.",
    "Account holder {person} asked us to send statements to {address} from now on.",
    "Ticket merged. Original reporter {person} <{email}> is cc'd on the reply.",
    "{person} disputes the {price} payment made on {when} with the card {card}.",
    "Refund to IBAN {iban} approved by {person} in finance.",
    "Verified caller against SSN {ssn} and date of birth {when}.",
    "Login attempts for this account came from {ip} and later from {ip}.",
    # clinic and HR
    "Referral letter: patient {person}, born {when}, resident at {address}.",
    "Dr. {surname} will see the patient again on {when} at the {city} clinic.",
    "Next of kin: {person} ({phone}).",
    "Employee record updated - {person}, start date {when}, payroll account {iban}.",
    "New starter {first} moves from the {city} office; desk phone {phone}.",
    "Emergency contact for {person} is {person}, who lives in {city}, {country}.",
    # travel and bookings
    "Booking confirmed for {person}, arriving in {city} on {when} with flight {flight}.",
    "The hotel in {city} charged the deposit to card {card}.",
    "Passengers {person} and {person} share reference {order_no}; contact {email}.",
    "Pick-up address: {address}. Driver will call {phone} on arrival.",
    "Visa appointment at the consulate in {city} has moved to {when}.",
    # chat and e-mail
    "hey it's {first}, my new number is {phone} - save it!",
    "can u send the photos to {email}? thx",
    "I'm flying back to {country} next week, text me on {phone}",
    "Kind regards,\n{person}\n{address}\nTel. {phone}",
    "Forwarding the CV of {person} as discussed; she is happy to relocate to {place}.",
    "Reminder: the parcel for {person} goes to {address}, not the old flat.",
    "Please wire the deposit to {iban} (account name {person}) before {when}.",
    "Our {city} office answers mail at {email} and calls on {phone}.",
    "Is {url} the right portal to reset my password? It keeps saying invalid.",
    # forms
    "Name: {person}\nPhone: {phone}\nE-mail: {email}",
    "Full name: {person} | DOB: {when} | SSN: {ssn}",
    "Billing address: {address}\nCard: {card}",
    "Beneficiary: {person}; IBAN: {iban}; reference {order_no}",
    "Surname, first name: {person}; place of birth: {city}",
    # news briefs
    "{city} mayor {person} opened the new bridge on {when}, ten years after it was first proposed.",
    "Police in {region} are looking for {person}, 34, who was last seen near {city}.",
    "{person} has been appointed ambassador to {country}, the ministry said.",
    "Flooding closed roads across {region} as {person}, the regional governor, declared an emergency.",
    "{person_upper} TO LEAD {place} DELEGATION",
    "The award went to {person} of {country} for work on malaria vaccines.",
    "Talks between {country} and {country} resumed in {city} on {when}.",
    # sports and history (hard negatives: scores, years, counts)
    "{surname} scored twice as {city} won {score} at home.",
    "Final score {score}; {surname}, {surname} and {surname} all hit double figures.",
    "{person} won the final {score} after losing the opening set.",
    "The cathedral was finished in {year} and restored after the fire of {year}.",
    "Attendance reached {count} for the first time since {year}.",
    "By {year} the town had grown to {count} inhabitants.",
    "The {year} season ended with a {score} defeat away from home.",
    "Train services resumed at {city} station after a delay of 40 minutes.",
    # tech and commerce (hard negatives)
    "Upgrade the agent to {version} before the maintenance window.",
    "Order {order_no} shipped in two parcels; the invoice total was {price}.",
    "The second edition (ISBN {isbn}) adds a chapter on coastal erosion.",
    "Flight {flight} is delayed by two hours because of fog.",
    "Release {version} fixes the crash reported in ticket {order_no}.",
    "We sold {count} units in the first quarter, up from {count} a year before.",
)

SLOTS = frozenset(
    (
        "person", "first", "surname", "person_upper", "city", "country", "region", "place", "address",
        "phone", "email", "url", "ip", "card", "iban", "ssn", "when", "year", "score", "count", "isbn",
        "version", "order_no", "flight", "price",
    )
)  # fmt: skip


def fill(template: str, values: EvalValues) -> list[Segment]:
    segments: list[Segment] = []
    rest = template
    while "{" in rest:
        pre, _, tail = rest.partition("{")
        slot, _, rest = tail.partition("}")
        if slot not in SLOTS:
            raise ValueError(f"unknown slot {slot!r} in an evaluation template")
        segments.append((pre, None))
        segments.extend(getattr(values, slot)())
    segments.append((rest, None))
    return segments


def generate(seed: int = DEFAULT_SEED, n: int = 1000) -> list[Record]:
    """``n`` records of 1-3 template sentences; the same seed gives the same records."""
    values = EvalValues(seed)
    records: list[Record] = []
    for idx in range(n):
        parts: list[Segment] = []
        for k in range(values.rng.choice([1, 1, 2, 2, 3])):
            if k:
                parts.append((" ", None))
            parts.extend(fill(values.rng.choice(EVAL_TEMPLATES), values))
        text, spans, pos = "", [], 0
        for chunk, label in parts:
            if label is not None:
                spans.append({"start": pos, "end": pos + len(chunk), "type": label})
            text += chunk
            pos += len(chunk)
        records.append({"id": idx, "text": text, "spans": spans})
    return records


def digest(records: list[Record]) -> str:
    """sha256 of the records as canonical JSON lines: the provenance of a generated set."""
    h = hashlib.sha256()
    for rec in records:
        h.update(json.dumps(rec, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=Path(".steward/eval_synth.jsonl"))
    args = ap.parse_args(argv)
    records = generate(args.seed, args.n)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    counts: Counter[str] = Counter(s["type"] for r in records for s in r["spans"])  # type: ignore[attr-defined]
    print(f"wrote {len(records)} records to {args.out} (sha256 {digest(records)[:16]})")
    for t, c in sorted(counts.items()):
        print(f"  {t:<20} {c}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
