"""The policy a worker enforces, swapped when the active version changes.

The active policy version lives in the control database. Every worker keeps
the compiled tables of the version it last saw and, at most every
``check_every`` seconds, asks the database which version is active; when it
changed (``servinfo policy activate`` in another process) or the day turned
(adequacy decisions and contracts expire by date), the worker compiles anew
and swaps the tables in one assignment, so a request sees either the old
tables or the new ones, never a mix.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from servinfo.access.compile import CompiledPolicy
from servinfo.access.decisions import Decider
from servinfo.access.views import Views
from servinfo.crypto import PSEUDONYM, Keyring, Pseudonymizer
from servinfo.policy import Policy
from servinfo.store import PolicyVersions


@dataclass(frozen=True)
class Enforced:
    """One policy version and everything compiled from it."""

    policy: Policy
    compiled: CompiledPolicy
    views: Views
    day: dt.date


class PolicyRuntime:
    def __init__(
        self,
        versions: PolicyVersions,
        keyring: Keyring,
        fallback: Policy,
        *,
        check_every: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self._versions = versions
        self._pseudonymizer = Pseudonymizer(keyring.current(PSEUDONYM))
        self._check_every = check_every
        self._clock = clock
        self._today = today
        self._enforced = self._compile(fallback)
        self.decider = Decider(self._enforced.compiled)
        self._checked_at = float("-inf")
        self.refresh()

    @property
    def current(self) -> Enforced:
        return self._enforced

    def refresh(self, *, force: bool = False) -> Enforced:
        """Swap to the active version if it changed; cheap when called on every request."""
        now = self._clock()
        if not force and now - self._checked_at < self._check_every:
            return self._enforced
        self._checked_at = now
        active = self._versions.active()
        enforced = self._enforced
        if active is not None and active.version != enforced.policy.version:
            policy = Policy.model_validate(json.loads(active.document))
            enforced = self._compile(policy)
        elif self._today() != enforced.day:
            enforced = self._compile(enforced.policy)
        if enforced is not self._enforced:
            self._enforced = enforced
            self.decider.use(enforced.compiled)
        return self._enforced

    def _compile(self, policy: Policy) -> Enforced:
        day = self._today()
        return Enforced(
            policy, CompiledPolicy.build(policy, day), Views(policy, self._pseudonymizer), day
        )
