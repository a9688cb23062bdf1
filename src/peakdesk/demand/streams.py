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
    part
        A centre's client (its index in the file): each client draws its buyers
        from streams of its own, so adding a client at the end (as ``quote --add``
        does) leaves the others' buyers as they were (common random numbers);
        reordering or removing clients renumbers the later ones.  Client 0 (and a
        plain scenario) uses the replication's own streams, so a centre of one
        client draws what its scenario draws.
    """

    def __init__(self, seed: int, replication: int, part: int = 0) -> None:
        self.seed = seed
        self.replication = replication
        self.part = part

    def get(self, name: StreamName) -> np.random.Generator:
        """A fresh generator for a named stream (the same one each call)."""
        key: tuple[int, ...] = (self.replication, _CODES[name])
        if self.part:
            key = (*key, self.part)
        ss = np.random.SeedSequence(entropy=self.seed, spawn_key=key)
        return np.random.Generator(np.random.PCG64(ss))
