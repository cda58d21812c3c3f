import csv
from dataclasses import dataclass


@dataclass
class Invoice:
    number: str
    amount_cents: int
    paid: bool = False


def read_invoices(path):
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [Invoice(r["number"], int(r["amount"]), r.get("paid") == "yes") for r in rows]


def outstanding(invoices):
    return sum(i.amount_cents for i in invoices if not i.paid)


def format_cents(cents):
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{frac:02d}"
