"""Trust policies: the file format, the quorum, and checking a cosigned checkpoint."""

from __future__ import annotations

import itertools

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.cosignature import Ed25519CosignatureSigner, MLDSA44CosignatureSigner
from servinfo.audit.errors import CheckpointInvalid, NoteInvalid, PolicyInvalid, QuorumNotMet
from servinfo.audit.merkle import leaf_hash, root_from_leaf_hashes
from servinfo.audit.note import Ed25519NoteSigner, NoteSignature, sign_note
from servinfo.audit.policy import TrustPolicy

ORIGIN = "example.com/log"
ROOT = root_from_leaf_hashes([leaf_hash(bytes([i])) for i in range(7)])
CHECKPOINT = Checkpoint(ORIGIN, 7, ROOT)
WHEN = 1_735_689_600


def key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


LOG = Ed25519NoteSigner(ORIGIN, key(1))
WITNESSES = {
    name: Ed25519CosignatureSigner(f"witness.example/{name.lower()}", key(10 + i))
    for i, name in enumerate(["X1", "X2", "X3", "Y1", "Y2", "Y3"])
}


def spec_policy_text() -> str:
    """The spec's two-level example, with real keys."""
    w = {name: signer.vkey() for name, signer in WITNESSES.items()}
    return f"""# the example of c2sp.org/tlog-policy
log {LOG.vkey()}

witness X1 {w["X1"]}
witness X2 {w["X2"]}
witness X3 {w["X3"]}
group X-witnesses 2 X1 X2 X3

witness Y1 {w["Y1"]}
witness Y2 {w["Y2"]}
witness Y3 {w["Y3"]}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
"""


def cosigned(*names: str, checkpoint: Checkpoint = CHECKPOINT, log: bool = True) -> bytes:
    data = sign_note(checkpoint.body(), [LOG] if log else [WITNESSES[names[0]]])
    if not log:
        names = names[1:]
    lines = [WITNESSES[name].cosign(checkpoint, WHEN + i).line() for i, name in enumerate(names)]
    return data + "".join(lines).encode()


@pytest.fixture
def policy() -> TrustPolicy:
    return TrustPolicy.parse(spec_policy_text())


# -- the file ------------------------------------------------------------------------


def test_the_spec_example_parses(policy: TrustPolicy) -> None:
    assert [log.origin for log in policy.logs] == [ORIGIN]
    assert [w.name for w in policy.witnesses] == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert [(g.name, g.threshold) for g in policy.groups] == [
        ("X-witnesses", 2),
        ("Y-witnesses", 1),
        ("X-and-Y", 2),
    ]
    assert policy.quorum == "X-and-Y"


def test_the_text_round_trips(policy: TrustPolicy) -> None:
    text = policy.to_text()
    assert TrustPolicy.parse(text) == policy
    assert "group Y-witnesses any Y1 Y2 Y3\n" in text
    assert text.endswith("quorum X-and-Y\n")


def test_urls_tabs_comments_and_a_missing_final_newline_are_accepted() -> None:
    text = (
        f"  # comment\n\tlog\t{LOG.vkey()}   https://log.example/  \n"
        f"witness W {WITNESSES['X1'].vkey()} https://w.example/\n\n  quorum W"
    )
    policy = TrustPolicy.parse(text)
    assert policy.logs[0].url == "https://log.example/"
    assert policy.witnesses[0].url == "https://w.example/"
    assert TrustPolicy.parse(policy.to_text()) == policy


def test_the_quorum_is_evaluated_group_by_group(policy: TrustPolicy) -> None:
    names = list(WITNESSES)
    for size in range(len(names) + 1):
        for chosen in itertools.combinations(names, size):
            xs = sum(name.startswith("X") for name in chosen)
            ys = sum(name.startswith("Y") for name in chosen)
            assert policy.is_quorum(chosen) == (xs >= 2 and ys >= 1), chosen


W = WITNESSES["X1"].vkey()
W2 = WITNESSES["X2"].vkey()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "no quorum"),
        (f"witness A {W}\n", "no quorum"),
        ("quorum A\n", "quorum names 'A'"),
        (f"quorum A\nwitness A {W}\n", "quorum names 'A'"),
        (f"witness A {W}\nquorum A\nquorum A\n", "second quorum"),
        (f"witness A {W}\nwitness A {W2}\nquorum A\n", "defined twice"),
        (f"witness none {W}\nquorum none\n", "predefined"),
        (f"witness all {W}\nquorum all\n", "keyword 'all'"),
        (f"witness A {W}\ngroup group any A\nquorum group\n", "keyword 'group'"),
        (f"witness #A {W}\nquorum #A\n", "invalid name"),
        (f"witness A {W}\ngroup G any A none\nquorum G\n", "'none' cannot be a group member"),
        (f"witness A {W}\ngroup G any A B\nquorum G\n", "names 'B'"),
        (f"group G any A\nwitness A {W}\nquorum G\n", "names 'A'"),
        (f"witness A {W}\ngroup G 0 A\nquorum G\n", "threshold"),
        (f"witness A {W}\ngroup G 2 A\nquorum G\n", "threshold"),
        (f"witness A {W}\nwitness B {W2}\ngroup G 02 A B\nquorum G\n", "threshold"),
        (f"witness A {W}\ngroup G any A A\nquorum G\n", "twice"),
        (f"witness A {W}\ngroup G any\nquorum G\n", "cannot read"),
        (f"witness A {W}\ngroup A any A\nquorum A\n", "defined twice"),
        (f"witness A {W}\nwitness B {W}\nquorum A\n", "same public key"),
        (f"log {LOG.vkey()}\nlog {LOG.vkey()}\nquorum none\n", "same public key"),
        (f"witness A {LOG.vkey()}\nquorum A\n", "key type 0x01"),
        (f"log {W}\nquorum none\n", "key type 0x04"),
        (f"witness A {W[:-2]}\nquorum A\n", "base64"),
        (f"witness A {W}\nquorum A\r\n", "control"),
        ("quorum none\x00\n", "control"),
        ("quorum none\x7f\n", "control"),
        ("logs x\nquorum none\n", "cannot read"),
        (f"witness A {W} url extra\nquorum A\n", "cannot read"),
        ("quorum none none\n", "cannot read"),
    ],
)
def test_malformed_policies_are_refused(text: str, match: str) -> None:
    with pytest.raises(PolicyInvalid, match=match):
        TrustPolicy.parse(text)


def test_bytes_are_read_as_utf8() -> None:
    assert TrustPolicy.parse(spec_policy_text().encode()) == TrustPolicy.parse(spec_policy_text())
    with pytest.raises(PolicyInvalid, match="UTF-8"):
        TrustPolicy.parse(b"# \xff\nquorum none\n")


def test_the_error_names_the_line() -> None:
    with pytest.raises(PolicyInvalid, match=r"^line 3: "):
        TrustPolicy.parse(f"# x\nwitness A {W}\ngroup G 5 A\nquorum G\n")


def test_two_witnesses_with_one_key_under_different_names_are_duplicates() -> None:
    other_name = Ed25519CosignatureSigner("another/name", key(10)).vkey()
    assert other_name != W
    with pytest.raises(PolicyInvalid, match="same public key"):
        TrustPolicy.parse(f"witness A {W}\nwitness B {other_name}\nquorum A\n")


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_arbitrary_text_raises_only_policy_invalid(text: str | bytes) -> None:
    try:
        TrustPolicy.parse(text)
    except PolicyInvalid as exc:
        assert_one_short_line(exc.message)


@given(st.lists(st.sampled_from(spec_policy_text().splitlines()), max_size=14))
def test_shuffled_example_lines_raise_only_policy_invalid(lines: list[str]) -> None:
    try:
        TrustPolicy.parse("\n".join(lines))
    except PolicyInvalid as exc:
        assert_one_short_line(exc.message)


# -- checking a checkpoint ------------------------------------------------------------


def test_a_checkpoint_with_a_quorum_verifies(policy: TrustPolicy) -> None:
    verified = policy.verify_checkpoint(cosigned("X1", "X3", "Y2"))
    assert verified.checkpoint == CHECKPOINT
    assert verified.log_key_id == LOG.key_id
    assert verified.cosignatures == {"X1": WHEN, "X3": WHEN + 1, "Y2": WHEN + 2}
    assert verified.note.text == CHECKPOINT.body()


def test_too_few_cosignatures_do_not_meet_the_quorum(policy: TrustPolicy) -> None:
    for names in [(), ("X1", "X2"), ("X1", "Y1", "Y2", "Y3")]:
        with pytest.raises(QuorumNotMet, match="quorum 'X-and-Y' not met"):
            policy.verify_checkpoint(cosigned(*names))


def test_a_repeated_cosignature_counts_once(policy: TrustPolicy) -> None:
    data = cosigned("X1", "Y1")
    line = WITNESSES["X1"].cosign(CHECKPOINT, WHEN).line().encode()
    with pytest.raises(QuorumNotMet):
        policy.verify_checkpoint(data + line)


def test_unknown_cosigners_are_ignored(policy: TrustPolicy) -> None:
    stranger = Ed25519CosignatureSigner("stranger.example", key(99))
    data = cosigned("X1", "X2", "Y1") + stranger.cosign(CHECKPOINT, WHEN).line().encode()
    assert set(policy.verify_checkpoint(data).cosignatures) == {"X1", "X2", "Y1"}


def test_a_failing_cosignature_by_a_listed_witness_rejects_the_note(policy: TrustPolicy) -> None:
    other = Checkpoint(ORIGIN, 8, ROOT)
    bad = WITNESSES["X3"].cosign(other, WHEN).line().encode()
    with pytest.raises(NoteInvalid, match="invalid signature"):
        policy.verify_checkpoint(cosigned("X1", "X2", "Y1") + bad)


def test_the_log_signature_is_required(policy: TrustPolicy) -> None:
    with pytest.raises(NoteInvalid, match="not signed by a log"):
        policy.verify_checkpoint(cosigned("X1", "X2", "X3", "Y1", log=False))
    forger = Ed25519NoteSigner(ORIGIN, key(2))
    forged = sign_note(CHECKPOINT.body(), [forger])
    forged += "".join(WITNESSES[n].cosign(CHECKPOINT, WHEN).line() for n in WITNESSES).encode()
    with pytest.raises(NoteInvalid, match="not signed by a log"):
        policy.verify_checkpoint(forged)


def test_a_checkpoint_of_another_origin_is_refused(policy: TrustPolicy) -> None:
    other = Ed25519NoteSigner("other.example/log", key(1))
    data = sign_note(Checkpoint("other.example/log", 7, ROOT).body(), [other])
    with pytest.raises(CheckpointInvalid, match="not a log of this policy"):
        policy.verify_checkpoint(data)


def test_malformed_notes_and_checkpoints_are_refused(policy: TrustPolicy) -> None:
    with pytest.raises(NoteInvalid):
        policy.verify_checkpoint(CHECKPOINT.body())
    with pytest.raises(CheckpointInvalid):
        policy.verify_checkpoint(sign_note(b"not a checkpoint\n", [LOG]))


def test_quorum_none_needs_only_the_log() -> None:
    policy = TrustPolicy.parse(f"log {LOG.vkey()}\nquorum none\n")
    assert policy.verify_checkpoint(cosigned()).cosignatures == {}


def test_an_mldsa_witness_counts_and_an_mldsa_log_cannot_vouch_for_extensions() -> None:
    pq_key = MLDSA44PrivateKey.from_seed_bytes(bytes(32))
    witness = MLDSA44CosignatureSigner("pq.example/w", pq_key)
    log = MLDSA44CosignatureSigner(ORIGIN, MLDSA44PrivateKey.from_seed_bytes(bytes([1]) * 32))
    policy = TrustPolicy.parse(f"log {log.vkey()}\nwitness P {witness.vkey()}\nquorum P\n")
    lines = log.cosign(CHECKPOINT, 0).line() + witness.cosign(CHECKPOINT, WHEN).line()
    data = CHECKPOINT.body() + b"\n" + lines.encode()
    assert policy.verify_checkpoint(data).cosignatures == {"P": WHEN}
    extended = Checkpoint(ORIGIN, 7, ROOT, ("unsigned extension",))
    lines = log.cosign(extended, 0).line() + witness.cosign(extended, WHEN).line()
    with pytest.raises(CheckpointInvalid, match="extension lines"):
        policy.verify_checkpoint(extended.body() + b"\n" + lines.encode())


def test_a_policy_built_directly_is_checked_too(policy: TrustPolicy) -> None:
    with pytest.raises(PolicyInvalid, match="quorum names"):
        TrustPolicy(policy.logs, policy.witnesses, policy.groups, "nobody")
    with pytest.raises(PolicyInvalid, match="two witnesses with the same public key"):
        TrustPolicy(policy.logs, policy.witnesses * 2, (), "none")


def test_a_signature_line_type_is_shared(policy: TrustPolicy) -> None:
    # The witness response lines are NoteSignatures: the same objects the policy reads.
    line = WITNESSES["X1"].cosign(CHECKPOINT, WHEN)
    assert isinstance(line, NoteSignature)
    assert policy.witnesses[0].verifier.timestamp_of(CHECKPOINT.body(), line.signature) == WHEN


def assert_one_short_line(message: str) -> None:
    """A refusal is one line and quotes little of its input."""
    assert "\n" not in message
    assert len(message) < 200


@given(st.binary(max_size=400))
def test_arbitrary_notes_raise_only_the_documented_errors(data: bytes) -> None:
    policy = TrustPolicy.parse(spec_policy_text())
    try:
        policy.verify_checkpoint(data)
    except (NoteInvalid, CheckpointInvalid, QuorumNotMet) as exc:
        assert_one_short_line(exc.message)


@given(st.lists(st.sampled_from(cosigned("X1", "Y1").decode().split("\n")), max_size=10))
def test_shuffled_note_lines_raise_only_the_documented_errors(lines: list[str]) -> None:
    policy = TrustPolicy.parse(spec_policy_text())
    try:
        policy.verify_checkpoint("\n".join(lines).encode())
    except (NoteInvalid, CheckpointInvalid, QuorumNotMet) as exc:
        assert_one_short_line(exc.message)
