"""Regenerate examples/customers.csv: 1,000 realistic customers, a few invalid on purpose.

    python examples/make_customers.py > examples/customers.csv

Deterministic (seeded), so the committed file only changes when this script does.
The invalid rows show what a rejection looks like: a bad IP address, a country
that is not an ISO code, a US zip of the wrong shape, a Canadian customer without
a province, an e-mail without an @, a state written out in full, a missing IP.
"""

from __future__ import annotations

import csv
import random
import sys

ROWS = 1000
SEED = 361
COLUMNS = (
    "first_name", "last_name", "email", "phone", "address", "city", "state", "zip",
    "country", "ip",
)  # fmt: skip

FIRST = (  # noqa: SIM905 - paragraphs of names read better than quoted lists
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William "
    "Barbara Richard Susan Joseph Jessica Thomas Sarah Daniel Karen Lukas Anna Leon "
    "Hannah Finn Emma Jonas Mia Olivia Noah Amelia Oliver Isla Chloe Liam Sophie "
    "Lucas Manon Hugo Camille Mateo Lucia Pablo Elena Aiko Kenji Priya Arjun Zoe"
).split()
LAST = (  # noqa: SIM905
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Martinez Wilson Anderson "
    "Taylor Thomas Moore Martin Lee Thompson White Harris Clark Lewis Walker Young "
    "Muller Schmidt Schneider Fischer Weber Meyer Wagner Becker Dubois Laurent Bernard "
    "Moreau Fournier Roux Tremblay Gagnon Roy Cote Bouchard O'Brien Kowalski Novak "
    "Rossi Russo Fernandez Lopez Sato Suzuki Patel Singh"
).split()
STREETS = (  # noqa: SIM905
    "Main St|Oak Ave|Maple Dr|Cedar Ln|Pine St|Elm St|Washington Ave|Lake Rd|Hill St|"
    "Park Ave|Sunset Blvd|River Rd|Church St|Mill Ln|Highland Ave"
).split("|")
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "shop.example")

# country, weight, [(city, state, zip pattern)], phone prefix, street style
PLACES = {
    "US": (
        40,
        [
            ("Denver", "CO", "802##"), ("Austin", "TX", "787##"), ("Seattle", "WA", "981##"),
            ("Boston", "MA", "021##"), ("Chicago", "IL", "606##"), ("Portland", "OR", "972##"),
            ("Miami", "FL", "331##"), ("Phoenix", "AZ", "850##"), ("Atlanta", "GA", "303##"),
            ("Brooklyn", "NY", "112##-####"), ("San Diego", "CA", "921##"),
        ],
        "+1",
    ),
    "CA": (
        12,
        [
            ("Toronto", "ON", "M5V #A#"), ("Montreal", "QC", "H2X #B#"),
            ("Vancouver", "BC", "V6B #C#"), ("Calgary", "AB", "T2P #D#"),
            ("Ottawa", "ON", "K1P #E#"),
        ],
        "+1",
    ),
    "DE": (
        14,
        [("Berlin", None, "10###"), ("Hamburg", None, "20###"), ("Munich", None, "80###"),
         ("Cologne", None, "50###"), ("Leipzig", None, "04###")],
        "+49",
    ),
    "GB": (
        12,
        [("London", None, "SW1A #AA"), ("Manchester", None, "M1 #AE"),
         ("Leeds", None, "LS1 #BA"), ("Bristol", None, "BS1 #AA")],
        "+44",
    ),
    "FR": (8, [("Paris", None, "750##"), ("Lyon", None, "6900#"), ("Lille", None, "5900#")], "+33"),
    "ES": (5, [("Madrid", None, "280##"), ("Valencia", None, "460##")], "+34"),
    "IT": (4, [("Rome", None, "001##"), ("Milan", None, "201##")], "+39"),
    "JP": (3, [("Tokyo", None, "100-00##"), ("Osaka", None, "530-00##")], "+81"),
    "IN": (2, [("Bengaluru", None, "5600##"), ("Pune", None, "4110##")], "+91"),
}  # fmt: skip


def _fill(pattern: str, rng: random.Random) -> str:
    return "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in pattern)


def _ip(rng: random.Random) -> str:
    if rng.random() < 0.15:
        groups = [f"{rng.randrange(0x10000):x}" for _ in range(4)]
        return "2001:db8::" + ":".join(groups)
    first = rng.choice((24, 31, 45, 62, 73, 81, 98, 104, 151, 176, 185, 203))
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def customer(index: int, rng: random.Random) -> dict[str, str]:
    countries = list(PLACES)
    country = rng.choices(countries, weights=[PLACES[c][0] for c in countries])[0]
    _, places, prefix = PLACES[country]
    city, state, zip_pattern = rng.choice(places)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = f"{first}.{last}".lower().replace("'", "")
    return {
        "first_name": first,
        "last_name": last,
        "email": f"{local}{index}@{rng.choice(DOMAINS)}",
        "phone": f"{prefix} {rng.randrange(200, 999)} {rng.randrange(100, 999)} "
        f"{rng.randrange(1000, 9999)}"
        if rng.random() < 0.8
        else "",
        "address": f"{rng.randrange(1, 9999)} {rng.choice(STREETS)}",
        "city": city,
        "state": state or "",
        "zip": _fill(zip_pattern, rng),
        "country": country,
        "ip": _ip(rng),
    }


# Line numbers are file lines (the header is line 1): row n is on line n + 1.
INVALID = {
    57: {"ip": "256.12.4.1"},
    181: {
        "country": "UK",
        "city": "London",
        "state": "",
        "zip": "SW1A 2AA",
        "phone": "+44 20 7946 0321",
    },
    298: {
        "country": "US",
        "city": "Denver",
        "state": "CO",
        "zip": "8020",
        "phone": "+1 303 555 0148",
    },
    404: {
        "country": "CA",
        "city": "Toronto",
        "state": "",
        "zip": "M5V 2T6",
        "phone": "+1 416 555 0199",
    },
    523: {"first_name": "Maria", "last_name": "Gomez", "email": "maria.gomez.example.com"},
    677: {"country": "US", "city": "Boulder", "state": "Colorado", "zip": "80301", "phone": ""},
    812: {"ip": ""},
    950: {
        "country": "US",
        "city": "Austin",
        "state": "",
        "zip": "78701",
        "phone": "+1 512 555 0123",
    },
}


def main() -> None:
    rng = random.Random(SEED)
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for index in range(1, ROWS + 1):
        row = customer(index, rng)
        row.update(INVALID.get(index + 1, {}))
        writer.writerow(row)


if __name__ == "__main__":
    main()
