"""Versioned rule sets: format, validation, tests, lifecycle and serving snapshots.

The interfaces other modules use (docs/seams.md) are re-exported here.
"""

from .bootstrap import bootstrap_bundled
from .compiled import RULESET_EXTENSION_KEY, CompiledRuleSet, RuleSetEvaluationError, ServiceDefinition
from .content import ContentError, RuleSetContent
from .loader import check_content, check_path, load_content, load_ruleset
from .problems import Problem, RuleSetInvalid
from .registry import RuleSetRegistry, Snapshot
from .store import Actor, Conflict, LifecycleError, NotFound, Refused, RuleSetStore

__all__ = [
    "RULESET_EXTENSION_KEY", "Actor", "CompiledRuleSet", "Conflict", "ContentError", "LifecycleError", "NotFound",
    "Problem", "Refused", "RuleSetContent", "RuleSetEvaluationError", "RuleSetInvalid", "RuleSetRegistry",
    "RuleSetStore", "ServiceDefinition", "Snapshot", "bootstrap_bundled", "check_content", "check_path",
    "load_content", "load_ruleset",
]
