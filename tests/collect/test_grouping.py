"""CommitGroups: concurrent callers share a commit, and each gets its own outcome."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from servinfo.collect.grouping import CommitGroups


class Refused(Exception):
    pass


def test_a_caller_alone_is_committed_at_once_in_a_group_of_one() -> None:
    groups: list[list[int]] = []

    def commit(items: list[int]) -> list[int]:
        groups.append(items)
        return [item * 10 for item in items]

    committer = CommitGroups(commit)
    assert committer.submit(1) == 10
    assert committer.submit(2) == 20
    assert groups == [[1], [2]]


def test_callers_arriving_during_a_commit_share_the_next_one() -> None:
    groups: list[list[int]] = []
    first_started, release_first = threading.Event(), threading.Event()

    def commit(items: list[int]) -> list[int]:
        groups.append(items)
        if items == [0]:
            first_started.set()
            assert release_first.wait(5)
        return [item * 10 for item in items]

    committer = CommitGroups(commit)
    with ThreadPoolExecutor(6) as pool:
        leader = pool.submit(committer.submit, 0)
        assert first_started.wait(5)
        followers = [pool.submit(committer.submit, n) for n in range(1, 6)]
        while len(committer._waiting) < 5:  # every follower queued behind the commit
            threading.Event().wait(0.01)
        release_first.set()
        assert leader.result(5) == 0
        assert [f.result(5) for f in followers] == [10, 20, 30, 40, 50]
    assert groups[0] == [0]
    assert sorted(groups[1]) == [1, 2, 3, 4, 5]
    assert len(groups) == 2


def test_each_caller_gets_its_own_refusal() -> None:
    def commit(items: list[int]) -> list[int | BaseException]:
        return [Refused(f"item {i}") if i % 2 else i for i in items]

    committer = CommitGroups(commit)
    assert committer.submit(2) == 2
    with pytest.raises(Refused, match="item 3"):
        committer.submit(3)


def test_a_failing_commit_fails_every_caller_of_its_group_and_the_next_group_still_runs() -> None:
    calls = 0

    def commit(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk gone")
        return items

    committer = CommitGroups(commit)
    with pytest.raises(OSError, match="disk gone"):
        committer.submit(1)
    assert committer.submit(2) == 2


def test_a_commit_that_miscounts_its_outcomes_fails_loudly() -> None:
    committer: CommitGroups[int, int] = CommitGroups(lambda items: [])
    with pytest.raises(RuntimeError, match="0 outcomes for 1 items"):
        committer.submit(1)


def test_groups_are_capped() -> None:
    sizes: list[int] = []
    gate = threading.Event()

    def commit(items: list[int]) -> list[int]:
        sizes.append(len(items))
        gate.wait(5)
        return items

    committer = CommitGroups(commit, max_group=3)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(committer.submit, n) for n in range(8)]
        gate.set()
        assert sorted(f.result(5) for f in futures) == list(range(8))
    assert max(sizes) <= 3
    assert sum(sizes) == 8


def test_max_group_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        CommitGroups(lambda items: items, max_group=0)
