"""An inventory of products, written for the demo (no copied code)."""
from dataclasses import dataclass, field


@dataclass
class Item:
    sku: str
    name: str
    quantity: int = 0
    tags: list = field(default_factory=list)


class Inventory:
    def __init__(self):
        self._items = {}

    def add(self, sku, name, quantity=1, tags=()):
        item = self._items.get(sku)
        if item is None:
            item = self._items[sku] = Item(sku, name)
        item.quantity += quantity
        for tag in tags:
            if tag not in item.tags:
                item.tags.append(tag)
        return item

    def remove(self, sku, quantity=1):
        item = self._items[sku]
        if quantity > item.quantity:
            raise ValueError(f"only {item.quantity} of {sku} in stock")
        item.quantity -= quantity
        if item.quantity == 0:
            del self._items[sku]

    def low_stock(self, threshold=5):
        return sorted(
            (item for item in self._items.values() if item.quantity <= threshold),
            key=lambda item: (item.quantity, item.sku),
        )

    def by_tag(self):
        groups = {}
        for item in self._items.values():
            for tag in item.tags or ["untagged"]:
                groups.setdefault(tag, []).append(item.sku)
        return {tag: sorted(skus) for tag, skus in sorted(groups.items())}
