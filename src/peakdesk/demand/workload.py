"""The workload: every conversation and its attributes, as arrays.

A :class:`Workload` is drawn before the engine runs (see
:func:`peakdesk.demand.sample.sample_workload`), so every staffing option
simulated on it faces exactly the same buyers (common random numbers).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Workload:
    """Conversations and their buyer messages in columnar form.

    Per-message arrays are flat, in conversation order; conversation ``i``
    owns messages ``msg_offset[i]:msg_offset[i + 1]``.

    Attributes
    ----------
    type_names
        Inquiry type names; ``type_idx`` indexes this.
    arrival_s
        First buyer message time of each conversation, seconds from the
        scenario start, non-decreasing.
    type_idx
        Inquiry type of each conversation.
    msg_offset
        CSR offsets into the per-message arrays, length ``n + 1``.
    think_s
        Buyer think time before each message, seconds (0 for a first message).
    compose_s
        Base agent compose time of the reply to each message, seconds, before
        pool speed, proficiency and concurrency factors.
    patience_s
        How long the buyer waits for the first reply before leaving, seconds
        (``inf``: never leaves).
    bot
        Whether a bot resolves the conversation (no agent needed).
    conversion_u
        Uniform(0, 1) draw deciding a pre-sale conversion (converted when
        below the delay-dependent probability).
    """

    type_names: tuple[str, ...]
    arrival_s: F64
    type_idx: I32
    msg_offset: I64
    think_s: F64
    compose_s: F64
    patience_s: F64
    bot: npt.NDArray[np.bool_]
    conversion_u: F64

    @property
    def n_conversations(self) -> int:
        """Number of conversations."""
        return int(self.arrival_s.size)

    @property
    def n_messages(self) -> int:
        """Number of buyer messages the buyers would send if nobody left."""
        return int(self.msg_offset[-1])

    @property
    def messages_per_conversation(self) -> I64:
        """Planned buyer messages of each conversation."""
        return np.diff(self.msg_offset)

    @functools.cached_property
    def message_conversation(self) -> I64:
        """Conversation index of each flat message (worked out once, read-only)."""
        out = np.repeat(np.arange(self.n_conversations, dtype=np.int64), np.diff(self.msg_offset))
        out.setflags(write=False)
        return out

    @functools.cached_property
    def message_index(self) -> I64:
        """Position of each flat message within its conversation (0 = first; worked out once)."""
        n_msg = np.diff(self.msg_offset)
        out = np.arange(self.n_messages, dtype=np.int64) - np.repeat(self.msg_offset[:-1], n_msg)
        out.setflags(write=False)
        return out
