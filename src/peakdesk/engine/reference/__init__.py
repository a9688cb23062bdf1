"""The reference engine: the simpy model, one module per concept.

:mod:`peakdesk.engine.model` runs it and states the model; ``state`` holds one
replication's inputs and state, ``events`` the reusable simpy events, ``loop``
the handlers and the settle step after each event, ``routing`` who takes which
chat, ``discipline`` how an agent writes its replies, ``conversation`` a chat's
life once taken, ``seats`` sub-accounts and seat groups, ``shift_end`` segment
starts and ends, ``records`` the columns the run leaves.  The compiled engine
(:mod:`peakdesk.engine.compiled`) mirrors these modules one for one.
"""
