"""The compiled engine: the reference engine's model in numba, the same log to the bit.

One module per concept, mirroring :mod:`peakdesk.engine.reference`: ``state``
(the arrays of one run, built in Python), ``refs`` (the one structref the
kernel's functions take), ``events`` (a 4-ary heap on (time, id), simpy's order),
``heaps`` (Python's heapq, step for step), ``records`` (the record buffers),
``discipline``, ``routing``, ``seats``, ``conversation``, ``shift_end`` and
``loop`` (the handlers and the settle step after each event), and ``driver``
(builds the arrays, runs the kernel, settles the run's end with
:mod:`peakdesk.engine.recorder`).  ``jit`` is how every function is compiled
(nopython, cached on disk).  Importing this package imports numba; nothing
else in peakdesk does until the compiled engine runs
(:mod:`peakdesk.engine.engines`).
"""
