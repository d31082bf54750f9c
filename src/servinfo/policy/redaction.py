"""What the policy says about redacting free text: per field, what is found and how it is replaced.

A free-text field names a profile (``redaction.profiles``; the policy's
``default_profile`` when it names none). A profile lists the types it detects —
built-in detectors (:data:`BUILTIN_TYPES`, servinfo's redaction engine) and the
organization's own patterns (``redaction.patterns``, RE2 syntax) — and how each type
is replaced: its tag ``<EMAIL>``, a mask ``****1111`` or a keyed pseudonym of the
subject ``<EMAIL:7f3a9c>``. A policy without profiles keeps servinfo's historical
behaviour: every built-in detector, every value tagged.

:func:`field_redaction` resolves what one field gets; :func:`redaction_problems` is
what ``policy check`` reports (unknown types, unknown profiles, patterns RE2 refuses
or that would redact ordinary prose); :func:`describe_field` words it for the notice
and the records of processing, so the published text comes from the same policy that
ingest applies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from servinfo.policy.model import CustomPattern, FieldSpec, Policy, Replacement

__all__ = [
    "BUILTIN_TYPES",
    "MAX_PROGRAM_SIZE",
    "TYPE_NAMES",
    "FieldRedaction",
    "check_pattern",
    "compile_pattern",
    "describe_field",
    "field_redaction",
    "free_text_fields",
    "redaction_problems",
]

#: The built-in detectors' types, as servinfo's redaction engine names them (a test holds
#: the two lists equal, so the policy package need not import the engine).
BUILTIN_TYPES: tuple[str, ...] = (
    "SECRET",
    "CARD",
    "IBAN",
    "EMAIL",
    "NATIONAL_ID",
    "PASSPORT",
    "DATE_OF_BIRTH",
    "IPV6",
    "IPV4",
    "PHONE",
    "ADDRESS",
    "PERSON",
)
#: What the notice and the records of processing call each built-in type.
TYPE_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "SECRET": "passwords, access tokens and private keys",
        "CARD": "payment card numbers",
        "IBAN": "bank account numbers (IBAN)",
        "EMAIL": "e-mail addresses",
        "NATIONAL_ID": "national identification numbers",
        "PASSPORT": "passport numbers",
        "DATE_OF_BIRTH": "dates of birth",
        "IPV6": "IPv6 addresses",
        "IPV4": "IPv4 addresses",
        "PHONE": "telephone numbers",
        "ADDRESS": "postal addresses",
        "PERSON": "people's names",
    }
)
#: RE2's program size above which a custom pattern is refused: the engine's own
#: patterns run to a few thousand instructions for dozens of formats; one format needs
#: far fewer, and every instruction costs at every byte of every free text.
MAX_PROGRAM_SIZE = 2000
#: The memory RE2 may use to compile and run one custom pattern.
_MAX_MEM = 8 << 20
#: Ordinary prose with no personal data: a pattern that covers more than half of it
#: would redact what people write, not a format.
_PROSE = (
    "The deployment failed again this morning after the upgrade. We restarted the "
    "service twice and cleared the cache, but the dashboard still shows an error when "
    "we open the billing page. Could you have a look and tell us what to change?"
)
_TAG = Replacement()


@dataclass(frozen=True)
class FieldRedaction:
    """What one free-text field is searched for and how each type found is replaced."""

    #: The profile applied; None when the policy declares none (every built-in, tagged).
    profile: str | None
    #: The built-in detectors run, in the engine's priority order.
    builtin: tuple[str, ...]
    #: The custom patterns run: (pattern id, pattern).
    patterns: tuple[tuple[str, CustomPattern], ...]
    #: The replacement of every type detected.
    replacements: Mapping[str, Replacement]

    @property
    def types(self) -> tuple[str, ...]:
        return (*self.builtin, *(p.type for _, p in self.patterns))

    @property
    def pseudonymizes(self) -> bool:
        """Whether a value may be replaced by a pseudonym (it then needs the subject's key)."""
        return any(r.mode == "pseudonym" for r in self.replacements.values())

    def canonical(self) -> dict[str, Any]:
        """A JSON-ready form that changes exactly when what the field gets changes."""
        return {
            "builtin": list(self.builtin),
            "patterns": [[pid, p.type, p.regex] for pid, p in self.patterns],
            "replace": {t: r.model_dump(mode="json") for t, r in sorted(self.replacements.items())},
        }

    def digest(self) -> str:
        data = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(data.encode("utf-8")).hexdigest()


def free_text_fields(policy: Policy) -> Iterator[tuple[str, str, FieldSpec]]:
    """Every free-text field: (kind id, field name, spec), in the policy's order."""
    for kind_id, kind in policy.kinds().items():
        for name, spec in kind.fields.items():
            if spec.free_text:
                yield kind_id, name, spec


def field_redaction(policy: Policy, spec: FieldSpec) -> FieldRedaction:
    """What ``spec`` (a free-text field of ``policy``) gets. The policy must be valid
    (:func:`redaction_problems` empty): an unknown profile raises KeyError."""
    redaction = policy.redaction
    profile_id = spec.redaction or redaction.default_profile
    if profile_id is None:
        return FieldRedaction(
            None, BUILTIN_TYPES, (), MappingProxyType(dict.fromkeys(BUILTIN_TYPES, _TAG))
        )
    profile = redaction.profiles[profile_id]
    wanted = set(profile.detect)
    builtin = tuple(t for t in BUILTIN_TYPES if t in wanted)
    patterns = tuple((pid, p) for pid, p in redaction.patterns.items() if p.type in wanted)
    replacements: dict[str, Replacement] = dict.fromkeys(builtin, _TAG)
    for _, pattern in patterns:
        replacements.setdefault(pattern.type, pattern.replacement)
    for type_, replacement in profile.replace.items():
        if type_ in replacements:
            replacements[type_] = replacement
    return FieldRedaction(profile_id, builtin, patterns, MappingProxyType(replacements))


# -- custom patterns --------------------------------------------------------------


def compile_pattern(regex: str) -> Any:
    """``regex`` compiled by RE2 as ingest runs it; raises ValueError saying why not."""
    import re2  # type: ignore[import-untyped]

    options = re2.Options()
    options.log_errors = False  # the error is raised, not written to stderr
    options.max_mem = _MAX_MEM
    try:
        compiled = re2.compile(regex, options)
    except re2.error as error:
        reason = error.args[0] if error.args else b"?"
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        raise ValueError(f"not RE2 syntax: {text}") from None
    return compiled


def check_pattern(regex: str) -> str | None:
    """Why RE2 must not run ``regex`` on every free text at ingest, or None if it may.

    Refused: what RE2 cannot compile (backreferences, lookaround, bad syntax), a
    program larger than :data:`MAX_PROGRAM_SIZE`, a pattern that matches the empty
    string, and one that covers more than half of a paragraph of ordinary prose
    (``.+``, ``\\w+``, ``[a-z ]+``): it would redact what people write.
    """
    try:
        compiled = compile_pattern(regex)
    except ValueError as error:
        return str(error)
    if compiled.programsize > MAX_PROGRAM_SIZE:
        return (
            f"too large for RE2 at ingest: program size {compiled.programsize}, "
            f"expected at most {MAX_PROGRAM_SIZE}"
        )
    if compiled.fullmatch("") is not None:
        return "matches the empty string; expected a pattern that needs at least one character"
    covered = sum(m.end() - m.start() for m in compiled.finditer(_PROSE))
    if covered * 2 > len(_PROSE):
        return (
            f"matches {covered} of the {len(_PROSE)} characters of ordinary prose; "
            "expected a pattern for one format of value"
        )
    return None


# -- policy check ---------------------------------------------------------------------

Severity = Literal["error", "warning"]
Problem = tuple[tuple[str | int, ...], str, Severity]


def redaction_problems(policy: Policy) -> Iterator[Problem]:
    """Every problem of ``policy.redaction`` and of the fields' profile references."""
    redaction = policy.redaction
    custom: dict[str, str] = {}
    for pattern_id, pattern in redaction.patterns.items():
        loc: tuple[str | int, ...] = ("redaction", "patterns", pattern_id)
        if pattern.type in BUILTIN_TYPES:
            yield (
                (*loc, "type"),
                f"type '{pattern.type}' is a built-in detector's; expected a type of its own",
                "error",
            )
        elif pattern.type in custom:
            yield (
                (*loc, "type"),
                f"type '{pattern.type}' is already the type of pattern '{custom[pattern.type]}'",
                "error",
            )
        else:
            custom[pattern.type] = pattern_id
        reason = check_pattern(pattern.regex)
        if reason is not None:
            yield (*loc, "regex"), reason, "error"
    known = (*BUILTIN_TYPES, *custom)
    detected: set[str] = set()
    for profile_id, profile in redaction.profiles.items():
        loc = ("redaction", "profiles", profile_id)
        seen: set[str] = set()
        for index, type_ in enumerate(profile.detect):
            if type_ not in known:
                yield (
                    (*loc, "detect", index),
                    f"unknown redaction type '{type_}' (declared: {', '.join(known)})",
                    "error",
                )
            elif type_ in seen:
                yield (*loc, "detect", index), f"type '{type_}' is listed twice", "error"
            seen.add(type_)
        detected.update(seen)
        for type_ in profile.replace:
            if type_ not in seen:
                yield (
                    (*loc, "replace", type_),
                    f"type '{type_}' is replaced but not detected by this profile "
                    f"(detect: {', '.join(profile.detect)})",
                    "error",
                )
    default = redaction.default_profile
    if default is not None and default not in redaction.profiles:
        yield (
            ("redaction", "default_profile"),
            f"unknown redaction profile '{default}' (declared: {', '.join(redaction.profiles)})",
            "error",
        )
    for kind_id, name, spec in _fields(policy):
        if spec.redaction is None:
            continue
        category, kind = kind_id.split(".", 1)
        loc = ("categories", category, "kinds", kind, "fields", name, "redaction")
        if not spec.free_text:
            yield loc, "only a free-text field (free_text: true) is redacted", "error"
        elif spec.redaction not in redaction.profiles:
            yield (
                loc,
                f"unknown redaction profile '{spec.redaction}' "
                f"(declared: {', '.join(redaction.profiles)})",
                "error",
            )
    for type_, pattern_id in custom.items():
        if type_ not in detected:
            yield (
                ("redaction", "patterns", pattern_id),
                f"no profile detects type '{type_}': the pattern runs on no field",
                "warning",
            )


def _fields(policy: Policy) -> Iterator[tuple[str, str, FieldSpec]]:
    for kind_id, kind in policy.kinds().items():
        for name, spec in kind.fields.items():
            yield kind_id, name, spec


# -- published text -------------------------------------------------------------------


def type_name(policy: Policy, type_: str) -> str:
    """What the notice calls values of ``type_``."""
    name = TYPE_NAMES.get(type_)
    if name is not None:
        return name
    for pattern in policy.redaction.patterns.values():
        if pattern.type == type_:
            return pattern.name
    return type_


def describe_replacement(replacement: Replacement) -> str:
    if replacement.mode == "mask":
        kept = replacement.keep_last
        return f"masked but for their last {kept} character{'s' if kept != 1 else ''}"
    if replacement.mode == "pseudonym":
        return (
            "replaced by a pseudonym keyed to the account, so that staff see where the "
            "same value recurs without seeing it; erasing the account destroys the key"
        )
    return "replaced by the name of their type"


def describe_field(policy: Policy, spec: FieldSpec) -> str:
    """One sentence: what is removed from the field and how (``e-mail addresses, … are
    replaced by the name of their type; payment card numbers are masked …``)."""
    resolved = field_redaction(policy, spec)
    by_wording: dict[str, list[str]] = {}
    for type_ in resolved.types:
        wording = describe_replacement(resolved.replacements[type_])
        by_wording.setdefault(wording, []).append(type_name(policy, type_))
    if not by_wording:
        return "nothing is removed"
    return "; ".join(f"{_join(names)} are {wording}" for wording, names in by_wording.items())


def _join(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"
