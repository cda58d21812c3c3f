"""Recent search history of the demo CLI."""


class History:
    def __init__(self, limit):
        if limit <= 0:
            raise ValueError("capacity must be positive")
        self.entries = [None] * limit
        self.first = 0
        self.count = 0

    def push(self, query):
        limit = len(self.entries)
        slot = (self.first + self.count) % limit
        self.entries[slot] = query
        if self.count < limit:
            self.count += 1
        else:
            self.first = (self.first + 1) % limit

    def pop_oldest(self):
        if self.count == 0:
            raise IndexError("pop from an empty ring buffer")
        query = self.entries[self.first]
        self.entries[self.first] = None
        self.first = (self.first + 1) % len(self.entries)
        self.count -= 1
        return query

    def recent(self):
        limit = len(self.entries)
        return [self.entries[(self.first + i) % limit] for i in range(self.count)]
