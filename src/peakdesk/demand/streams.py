"""Named random streams: common random numbers by construction.

Each replication of a scenario gets one ``SeedSequence(seed, spawn_key=(replication,))``
and every kind of randomness its own child stream, keyed by a fixed code, so that
drawing more (or fewer) numbers for one attribute never shifts another's.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

StreamName = Literal[
    "arrivals",
    "type_mix",
    "messages",
    "think_time",
    "compose_time",
    "patience",
    "bot",
    "conversion",
    "volume",
]

_CODES: dict[str, int] = {
    "arrivals": 1,
    "type_mix": 2,
    "messages": 3,
    "think_time": 4,
    "compose_time": 5,
    "patience": 6,
    "bot": 7,
    "conversion": 8,
    "volume": 9,
}


class Streams:
    """Independent generators for one replication.

    Parameters
    ----------
    seed
        The scenario's base seed.
    replication
        Replication number (0, 1, ...).
    """

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = seed
        self.replication = replication

    def get(self, name: StreamName) -> np.random.Generator:
        """A fresh generator for a named stream (the same one each call)."""
        ss = np.random.SeedSequence(entropy=self.seed, spawn_key=(self.replication, _CODES[name]))
        return np.random.Generator(np.random.PCG64(ss))
