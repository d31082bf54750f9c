"""Whatever a log (or an attacker holding its key) submits, the witness cosigns one history.

Two branches share their first leaves and then differ, both signed with the
log's key: the strongest adversary the witness faces. Hypothesis submits
checkpoints of either branch, at any size, from any old size, with the right
proof, no proof or a proof of the other branch. Whatever the sequence, the
checkpoints the witness cosigned must have sizes that never decrease, and must
all lie on one branch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.witness.support import FakeClock, SyntheticLog

from servinfo.audit.witness_protocol import AddCheckpointRequest
from servinfo.witness.directory import init_witness, open_witness
from servinfo.witness.errors import WitnessError

SHARED = 5
LENGTH = 20

#: branch, size, old size (None: the size the witness holds), proof kind
Submission = tuple[int, int, int | None, str]

submissions = st.lists(
    st.tuples(
        st.sampled_from([0, 1]),
        st.integers(0, LENGTH),
        st.one_of(st.none(), st.integers(0, LENGTH)),
        st.sampled_from(["right", "none", "other branch"]),
    ),
    min_size=1,
    max_size=12,
)


@pytest.fixture(scope="module")
def branches() -> tuple[SyntheticLog, SyntheticLog]:
    main = SyntheticLog().append(LENGTH)
    return main, main.fork(SHARED).append(LENGTH - SHARED)


@settings(max_examples=60, deadline=None)
@given(plan=submissions)
def test_the_witness_cosigns_one_history_whatever_is_submitted(
    plan: list[Submission],
    branches: tuple[SyntheticLog, SyntheticLog],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    directory: Path = tmp_path_factory.mktemp("witness") / "w"
    init_witness(directory, "witness.example/p")
    witness = open_witness(directory, clock=FakeClock())
    witness.store.add_log(branches[0].origin, [branches[0].vkey])
    cosigned: list[tuple[int, int]] = []  # (size, branch)
    for branch, size, chosen_old_size, proof_kind in plan:
        log, other = branches[branch], branches[1 - branch]
        held = witness.store.log(log.origin)
        assert held is not None
        old_size = held.state.size if chosen_old_size is None else chosen_old_size
        if proof_kind == "none" or not 0 < old_size <= size:
            proof: tuple[bytes, ...] = ()
        else:
            proof = (log if proof_kind == "right" else other).proof(old_size, size)
        request = AddCheckpointRequest(old_size, proof, log.signed(size))
        try:
            witness.add(request)
        except WitnessError:
            continue
        cosigned.append((size, branch))
    sizes = [size for size, _ in cosigned]
    assert sizes == sorted(sizes)
    diverged = {branch for size, branch in cosigned if size > SHARED}
    assert len(diverged) <= 1
    state = witness.store.log(branches[0].origin)
    assert state is not None
    if cosigned:
        size, branch = cosigned[-1]
        assert (state.state.size, state.state.root) == (size, branches[branch].root(size))
