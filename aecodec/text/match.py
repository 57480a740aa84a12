"""The match model: the byte that followed the last occurrence of the current context.

Long repeats (names, refrains, quoted lines) are where a hashed order-n table is weakest and a
pointer into the past is strongest (Mahoney's lpaq1 MatchModel). Each lane keeps a pointer into
the block's lanes (any lane: they share the table) and the length of the match so far; the mixer
gets the byte it points at and that length. A table maps the hash of the last MIN_LENGTH bytes to
the position of the byte that came next; it only ever holds positions coded in earlier steps, so
the decoder has those bytes when the pointer is used.
"""

import numpy as np

MIN_LENGTH = 8  # bytes hashed to find a match
TABLE_BITS = 20
MAX_LENGTH = 65535
_MUL = np.uint64(0x9E3779B97F4A7C15)
_MASK = np.uint64((1 << (8 * MIN_LENGTH)) - 1)


class MatchModel:
    """Pointers of every lane into `rows` (lanes, context + lane length), filled as coded."""

    def __init__(self, rows: np.ndarray, context: int) -> None:
        self.rows, self.flat = rows, rows.reshape(-1)
        self.width, self.context = rows.shape[1], context
        self.table = np.full(1 << TABLE_BITS, -1, dtype=np.int64)
        self.pointer = np.full(rows.shape[0], -1, dtype=np.int64)
        self.length = np.zeros(rows.shape[0], dtype=np.int64)

    def predict(self, active: int) -> tuple[np.ndarray, np.ndarray]:
        """The expected next byte of each active lane and the match length (0: no match)."""
        pointer = self.pointer[:active]
        expected = self.flat[np.maximum(pointer, 0)].astype(np.int64)
        return expected, np.where(pointer >= 0, self.length[:active], 0)

    def update(self, active: int, t: int, history: np.ndarray) -> None:
        """Byte t of the active lanes is in `rows`; `history` holds each lane's last 8 bytes."""
        pointer, length = self.pointer[:active], self.length[:active]
        byte = self.rows[:active, self.context + t]
        hit = (pointer >= 0) & (self.flat[np.maximum(pointer, 0)] == byte)
        pointer = np.where(hit, pointer + 1, -1)
        length = np.where(hit, np.minimum(length + 1, MAX_LENGTH), 0)
        with np.errstate(over="ignore"):
            key = ((history & _MASK) * _MUL) >> np.uint64(64 - TABLE_BITS)
        key = key.astype(np.int64)
        if t + 1 >= MIN_LENGTH:
            found = self.table[key]  # positions of bytes coded in steps up to t
            fresh = ~hit & (found >= 0)
            pointer = np.where(fresh, found, pointer)
            length = np.where(fresh, 1, length)
            here = np.arange(active) * self.width + self.context + t + 1
            np.maximum.at(self.table, key, here)  # of lanes sharing a key, the last lane wins
        # A pointer that ran off the end of its lane's row into the next row's padding, or off
        # the last row, is dropped.
        off = (pointer >= self.flat.size) | ((pointer >= 0) & (pointer % self.width < self.context))
        self.pointer[:active] = np.where(off, -1, pointer)
        self.length[:active] = np.where(off, 0, length)
