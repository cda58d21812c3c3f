"""Command line of the demo inventory (no copied code)."""
import argparse
import sys

from demo.inventory import Inventory
from demo.search import best_matches, normalize_query
from demo.text import banner


def build_parser():
    parser = argparse.ArgumentParser(prog="demo")
    parser.add_argument("query", nargs="?", default="")
    parser.add_argument("--limit", type=int, default=3)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    inventory = Inventory()
    for sku, name in [("A1", "apple"), ("B2", "banana"), ("C3", "cherry")]:
        inventory.add(sku, name, quantity=3, tags=["fruit"])
    print(banner("inventory"))
    names = [item.name for item in inventory.low_stock(threshold=10)]
    if args.query:
        names = best_matches(normalize_query(args.query), names, limit=args.limit)
    for name in names:
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
