"""Errors of the policy package::

PolicyError               (servinfo.errors.ServinfoError)
├── PolicyFileError       the policy file cannot be read
├── PolicyInvalid         the policy has errors; ``problems`` lists each with its location
└── UnknownPolicyElement  a caller named an id the policy does not declare
"""

from __future__ import annotations

from servinfo.errors import ServinfoError


class PolicyError(ServinfoError):
    code = "policy_error"


class PolicyFileError(PolicyError):
    code = "policy_file_error"


class PolicyInvalid(PolicyError):
    code = "policy_invalid"
    http_status = 422

    def __init__(self, problems: list[str]) -> None:
        count = len(problems)
        super().__init__(f"the policy has {count} error{'s' if count != 1 else ''}")
        self.problems = problems

    def diagnostics(self) -> str:
        return "\n".join([self.message, *self.problems])


class UnknownPolicyElement(PolicyError):
    code = "unknown_policy_element"

    def __init__(self, what: str, got: str, declared: list[str]) -> None:
        super().__init__(f"unknown {what} '{got}' (declared: {', '.join(declared)})")
