"""The policy: one machine-readable source of truth for everything servinfo does.

Load it with :func:`load_policy`; check a file with :func:`check_policy_file`.
"""

from servinfo.policy.errors import PolicyError, PolicyFileError, PolicyInvalid, UnknownPolicyElement
from servinfo.policy.loading import (
    CheckResult,
    Problem,
    check_policy_file,
    check_policy_text,
    load_policy,
    load_policy_text,
)
from servinfo.policy.model import Policy

__all__ = [
    "CheckResult",
    "Policy",
    "PolicyError",
    "PolicyFileError",
    "PolicyInvalid",
    "Problem",
    "UnknownPolicyElement",
    "check_policy_file",
    "check_policy_text",
    "load_policy",
    "load_policy_text",
]
