"""Fitting a scenario's quantities from a shop's own chat export (issue 13, in progress).

:mod:`peakdesk.calibrate.fit` estimates, from a :class:`~peakdesk.rules.messages.MessageLog`,
the quantities a message log shows directly: conversation arrivals per interval, buyer
messages per conversation, buyer think time and the share answered by bots, each with
its uncertainty.  Patience (which needs the conversation table's abandonment times),
compose time by chats held, and the ``peakdesk calibrate`` command that writes a
scenario are still to come.
"""
