"""Is the danger a message speaks of what the message is about, or a phrase in passing?

A resident who is cold writes about the cold: `нет отопления, батареи ледяные`. A long
complaint about a broken door that also says `батареи холодные` somewhere further on is a
complaint about the door; answering it with the emergency numbers and joining it to the
resident's heating emergency left the door without a ticket (issue 12).

Only no heating can be a phrase in passing. Its harm builds over hours, and the
dispatcher reads the complaint anyway. Gas, fire, flooding, sparking wires and a person
stuck in a lift can kill or ruin within the hour, so any mention of them, however brief,
still gets the emergency numbers: a false alarm costs one SMS, a miss may cost a life. Pure.
"""

from __future__ import annotations

from smsbot import categories, danger

PASSING_KINDS = frozenset({danger.HEATING})
"""Dangers that a longer message about something else may mention without being an alarm."""
COMPLAINT_WORDS = 12
"""From this many words a message is a complaint that may mention things in passing; an
alarm is short (`нет отопления третий день, дети мёрзнут` is 6)."""

_OWN_PROBLEMS = {
    danger.HEATING: frozenset({"heating_out", "heating_fault"}),
}
"""Problems that are the danger itself, said in routine words."""


def in_passing(text: str, kind: str | None) -> bool:
    """True when `kind` is mentioned once, in passing, in a longer message whose subject (the
    first clause that names a problem) is another problem."""
    if kind not in PASSING_KINDS or len(text.split()) < COMPLAINT_WORDS:
        return False
    clauses = categories.clauses_of(text)
    alarmed = [i for i, s in enumerate(clauses) if danger.detect(s) == kind]
    if len(alarmed) != 1:  # said again and again, or only across clauses: take it seriously
        return False
    for i, clause in enumerate(clauses):
        problem = categories.guess_one(clause)
        if i == alarmed[0] or problem.key == "other":
            continue
        return i < alarmed[0] and problem.key not in _OWN_PROBLEMS[kind]
    return False
