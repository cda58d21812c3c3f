# SPDX-License-Identifier: GPL-3.0-or-later
# A fixed-size ring buffer, written for codeguard's quick start as a stand-in for copyleft
# code from another project.


class RingBuffer:
    """Keep the last `capacity` items pushed, oldest first."""

    def __init__(self, capacity):
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self._items = [None] * capacity
        self._start = 0
        self._size = 0

    def push(self, item):
        capacity = len(self._items)
        end = (self._start + self._size) % capacity
        self._items[end] = item
        if self._size < capacity:
            self._size += 1
        else:
            self._start = (self._start + 1) % capacity

    def pop_oldest(self):
        if self._size == 0:
            raise IndexError("pop from an empty ring buffer")
        item = self._items[self._start]
        self._items[self._start] = None
        self._start = (self._start + 1) % len(self._items)
        self._size -= 1
        return item

    def snapshot(self):
        capacity = len(self._items)
        return [self._items[(self._start + i) % capacity] for i in range(self._size)]
