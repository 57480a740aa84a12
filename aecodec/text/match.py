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


class MatchModel:
    """The match model's state, as kernels.py's match_predict and match_update take it: a
    table from the hash of the last MIN_LENGTH bytes to the position (in the block's lanes,
    flattened) of the byte that followed, and each lane's pointer (-1: none) and match
    length."""

    def __init__(self, lanes: int) -> None:
        self.state = (
            np.full(1 << TABLE_BITS, -1, dtype=np.int64),
            np.full(lanes, -1, dtype=np.int64),
            np.zeros(lanes, dtype=np.int64),
        )
