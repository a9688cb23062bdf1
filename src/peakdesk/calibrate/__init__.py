"""Fitting a scenario's quantities from a shop's own chat export (issue 13, in progress).

:mod:`peakdesk.calibrate.fit` estimates, from a :class:`~peakdesk.rules.messages.MessageLog`,
the quantities a message log shows directly: conversation arrivals per interval, buyer
messages per conversation, buyer think time and the share answered by bots, each with
its uncertainty; the writing time per reply by chats held (from back-to-back replies
of one agent); and buyer patience from a conversation table's right-censored waits
(Kaplan-Meier and the exponential maximum-likelihood mean).  Agents online as
shifts, surge detection, smoothing and the ``peakdesk calibrate`` command that
writes a scenario and its report are still to come.
"""
