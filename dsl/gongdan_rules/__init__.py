"""gongdan_rules: the gongdan rules language (`.rules` files), a library of its own.

    from gongdan_rules import compile_ruleset, RulesError, Diagnostic
    rs = compile_ruleset(source, schema=form_schema, channels={"sms", "wecom"})
    rs.classify(ticket); rs.route(ticket, engineers, now); rs.on_event(ticket, event)
    rs.can_close(ticket); rs.dwell_rules; rs.archive_rules; rs.python_source()

It needs only lark and google-re2, and never imports the gongdan server.
"""

from . import explain
from .compiler import CompiledRuleset, compile_ruleset
from .diagnostics import CODES, Diagnostic, RulesError
from .index import EngineerIndex, Prefilter
from .runtime import (
    ArchiveRule,
    Candidate,
    DwellRule,
    LockResult,
    Notify,
    RouteDecision,
    RulesRuntimeError,
    SlaDecision,
    Transition,
)

__all__ = [
    "CODES",
    "ArchiveRule",
    "Candidate",
    "CompiledRuleset",
    "Diagnostic",
    "DwellRule",
    "EngineerIndex",
    "LockResult",
    "Notify",
    "Prefilter",
    "RouteDecision",
    "RulesError",
    "RulesRuntimeError",
    "SlaDecision",
    "Transition",
    "compile_ruleset",
    "explain",
]
