"""The fideslang and W3C DPV exports of the policy.

The fideslang export is loaded with the real ``fideslang`` package, which pins an
older pydantic and so lives in a venv of its own (``make test`` creates it and
passes its interpreter in ``SERVINFO_FIDESLANG_PYTHON``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from servinfo.policy import Policy, load_policy
from servinfo.policy._fideslang_keys import DATA_CATEGORIES, DATA_SUBJECTS, DATA_USES
from servinfo.policy.interchange import (
    dpv_document,
    export_dpv,
    export_fideslang,
    redundant_fideslang_extensions,
    unknown_fideslang_keys,
)

TODAY = dt.date(2026, 6, 1)
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Runs in the fideslang venv: loads a manifest with fideslang's own models and
#: checks that every key it names resolves in the default taxonomy or the manifest.
FIDESLANG_CHECK = r"""
import json, sys
import yaml
from fideslang.default_taxonomy import DEFAULT_TAXONOMY
from fideslang.models import DataCategory, DataSubject, DataUse, Taxonomy

with open(sys.argv[1], encoding="utf-8") as handle:
    manifest = yaml.safe_load(handle)
taxonomy = Taxonomy.model_validate(manifest)
problems = []
known = {
    "data_category": {c.fides_key for c in DEFAULT_TAXONOMY.data_category},
    "data_use": {u.fides_key for u in DEFAULT_TAXONOMY.data_use},
    "data_subject": {s.fides_key for s in DEFAULT_TAXONOMY.data_subject},
}
models = {"data_category": DataCategory, "data_use": DataUse, "data_subject": DataSubject}
for resource, model in models.items():
    for entry in manifest.get(resource) or []:
        item = model.model_validate(entry)
        if item.fides_key in known[resource]:
            problems.append(f"{resource} {item.fides_key} redefines a standard key")
        known[resource].add(item.fides_key)
for resource in ("data_category", "data_use"):
    for entry in manifest.get(resource) or []:
        parent = entry.get("parent_key")
        if parent is not None and parent not in known[resource]:
            problems.append(f"{resource} {entry['fides_key']}: parent {parent} does not resolve")

def nested(fields):
    for field in fields or []:
        yield field
        yield from nested(field.fields)

for dataset in taxonomy.dataset:
    for collection in dataset.collections:
        for item in [collection, *nested(collection.fields)]:
            for key in item.data_categories or []:
                if key not in known["data_category"]:
                    problems.append(f"field {item.name}: unknown data category {key}")
for system in taxonomy.system:
    for declaration in system.privacy_declarations:
        if declaration.data_use not in known["data_use"]:
            problems.append(f"{declaration.name}: unknown data use {declaration.data_use}")
        for key in declaration.data_categories:
            if key not in known["data_category"]:
                problems.append(f"{declaration.name}: unknown data category {key}")
        for key in declaration.data_subjects:
            if key not in known["data_subject"]:
                problems.append(f"{declaration.name}: unknown data subject {key}")
print(json.dumps({
    "problems": problems,
    "data_uses": sorted(d.data_use for s in taxonomy.system for d in s.privacy_declarations),
    "custom": sorted(c.fides_key for c in taxonomy.data_category + taxonomy.data_use),
}))
"""


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(today=TODAY)


@pytest.fixture(scope="module")
def fideslang_python() -> Path:
    configured = os.environ.get("SERVINFO_FIDESLANG_PYTHON")
    python = Path(configured) if configured else REPO_ROOT / ".venv-fideslang" / "bin" / "python"
    if not python.exists():
        message = (
            f"no fideslang interpreter at {python}; create it with "
            "`python3 -m venv .venv-fideslang && .venv-fideslang/bin/pip install "
            "fideslang==3.1.4` (`make test` does this)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return python


def _variant(policy: Policy, change: Callable[[dict[str, Any]], None]) -> Policy:
    data = policy.model_dump(mode="json")
    change(data)
    return Policy.model_validate(data)


def _load_with_fideslang(python: Path, manifest: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "manifest.yaml"
    path.write_text(manifest, "utf-8")
    script = tmp_path / "check.py"
    script.write_text(FIDESLANG_CHECK, "utf-8")
    result = subprocess.run(
        [str(python), "-W", "error", str(script), str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, f"fideslang refused the export:\n{result.stderr}"
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def _custom_keys(data: dict[str, Any]) -> None:
    """Purposes and categories with keys fideslang does not define."""
    data["purposes"]["improve_use"]["fideslang"] = "personalize.system.recommendations"
    data["categories"]["telemetry"]["kinds"]["usage"]["fideslang"] = "servinfo.metering.usage"
    data["fideslang_extensions"]["personalize.system.recommendations"] = "Recommendations."
    data["fideslang_extensions"]["servinfo.metering.usage"] = "Metered use of resources."


# -- fideslang ----------------------------------------------------------------------------------


def test_standard_keys_module_matches_fideslang_shape() -> None:
    assert {"user.account", "user.telemetry", "system.operations"} <= DATA_CATEGORIES
    assert "user.settings" not in DATA_CATEGORIES
    assert {"essential.service", "essential.legal_obligation"} <= DATA_USES
    assert "essential.legal" not in DATA_USES
    assert {"customer", "supplier_vendor"} <= DATA_SUBJECTS


def test_default_policy_uses_no_unknown_fideslang_key(policy: Policy) -> None:
    assert unknown_fideslang_keys(policy) == []
    assert redundant_fideslang_extensions(policy) == []


def test_unknown_keys_are_reported_until_declared(policy: Policy) -> None:
    def undeclared(data: dict[str, Any]) -> None:
        data["purposes"]["legal"]["fideslang"] = "essential.legal"
        data["data_subjects"]["partner_contact"]["fideslang"] = "user.name"  # a category key

    changed = _variant(policy, undeclared)
    assert unknown_fideslang_keys(changed) == ["essential.legal", "user.name"]

    def declared(data: dict[str, Any]) -> None:
        undeclared(data)
        data["fideslang_extensions"]["essential.legal"] = "Legal obligations."
        data["fideslang_extensions"]["user.name"] = "Oddly, a subject."

    assert unknown_fideslang_keys(_variant(policy, declared)) == []


def test_an_extension_that_is_standard_is_redundant(policy: Policy) -> None:
    def shadow(data: dict[str, Any]) -> None:
        data["fideslang_extensions"]["user.telemetry"] = "Telemetry."

    changed = _variant(policy, shadow)
    assert redundant_fideslang_extensions(changed) == ["user.telemetry"]
    manifest = yaml.safe_load(export_fideslang(changed))
    assert "user.telemetry" not in {c["fides_key"] for c in manifest["data_category"]}


def test_fideslang_export_redefines_no_standard_key(policy: Policy) -> None:
    manifest = yaml.safe_load(export_fideslang(policy))
    assert set(manifest) >= {"data_category", "data_use", "data_subject", "dataset", "system"}
    categories = {c["fides_key"]: c for c in manifest["data_category"]}
    assert categories == {
        "user.settings": {
            "fides_key": "user.settings",
            "name": policy.categories["settings"].name,
            "description": policy.fideslang_extensions["user.settings"],
            "parent_key": "user",
            "is_default": False,
        }
    }
    assert manifest["data_use"] == []
    assert manifest["data_subject"] == []


def test_fideslang_export_describes_categories_kinds_and_fields(policy: Policy) -> None:
    manifest = yaml.safe_load(export_fideslang(policy))
    (dataset,) = manifest["dataset"]
    collections = {c["name"]: c for c in dataset["collections"]}
    assert list(collections) == list(policy.categories)
    profile = next(f for f in collections["account"]["fields"] if f["name"] == "profile")
    keys = {f["name"]: f["data_categories"] for f in profile["fields"]}
    assert keys["email"] == ["user.contact.email"]
    assert keys["locale"] == ["user.account"]  # no key of its own: its kind's


def test_fideslang_export_declares_each_purpose(policy: Policy) -> None:
    manifest = yaml.safe_load(export_fideslang(policy))
    (system,) = manifest["system"]
    declarations = {d["data_use"]: d for d in system["privacy_declarations"]}
    assert sorted(declarations) == sorted(p.fideslang for p in policy.purposes.values())
    credit = declarations["essential.service.payment_processing"]
    assert credit["legal_basis_for_processing"] == "Legitimate interests"
    assert "user.contact.phone_number" not in credit["data_categories"]  # narrowed by fields
    assert credit["third_parties"] == "Crediva Information Services GmbH"
    assert declarations["essential.legal_obligation"]["legal_basis_for_processing"] == (
        "Legal obligations"
    )
    assert credit["data_subjects"] == ["customer", "supplier_vendor"]


def test_custom_keys_get_resolvable_parents(policy: Policy) -> None:
    manifest = yaml.safe_load(export_fideslang(_variant(policy, _custom_keys)))
    uses = {u["fides_key"]: u["parent_key"] for u in manifest["data_use"]}
    assert uses == {"personalize.system.recommendations": "personalize.system"}
    categories = {c["fides_key"]: c["parent_key"] for c in manifest["data_category"]}
    # The undefined ancestors of servinfo.metering.usage are exported too, parents first.
    assert list(categories) == [
        "servinfo",
        "servinfo.metering",
        "servinfo.metering.usage",
        "user.settings",
    ]
    assert categories["servinfo"] is None
    assert categories["servinfo.metering.usage"] == "servinfo.metering"


def test_fideslang_loads_the_default_export(
    policy: Policy, fideslang_python: Path, tmp_path: Path
) -> None:
    loaded = _load_with_fideslang(fideslang_python, export_fideslang(policy), tmp_path)
    assert loaded["problems"] == []
    assert loaded["data_uses"] == sorted(p.fideslang for p in policy.purposes.values())
    assert loaded["custom"] == ["user.settings"]


def test_fideslang_loads_an_export_with_custom_keys(
    policy: Policy, fideslang_python: Path, tmp_path: Path
) -> None:
    changed = _variant(policy, _custom_keys)
    loaded = _load_with_fideslang(fideslang_python, export_fideslang(changed), tmp_path)
    assert loaded["problems"] == []
    assert "personalize.system.recommendations" in loaded["custom"]


def test_fideslang_check_catches_an_unresolved_key(
    policy: Policy, fideslang_python: Path, tmp_path: Path
) -> None:
    """The loader check itself can fail: a data use fideslang does not know."""
    manifest = yaml.safe_load(export_fideslang(policy))
    manifest["system"][0]["privacy_declarations"][0]["data_use"] = "essential.legal"
    loaded = _load_with_fideslang(fideslang_python, yaml.safe_dump(manifest), tmp_path)
    assert any("unknown data use essential.legal" in p for p in loaded["problems"])


# -- DPV ----------------------------------------------------------------------------------------


def _graph(policy: Policy) -> dict[str, dict[str, Any]]:
    document = json.loads(export_dpv(policy))
    return {node["@id"].split("#", 1)[1]: node for node in document["@graph"]}


def _ids(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [item["@id"] for item in items if "@id" in item]


def test_dpv_is_json_ld_in_the_dpv2_namespaces(policy: Policy) -> None:
    text = export_dpv(policy)
    document = json.loads(text)
    assert json.loads(json.dumps(document)) == document
    assert document["@context"]["dpv"] == "https://w3id.org/dpv#"
    assert document["@context"]["eu-gdpr"] == "https://w3id.org/dpv/legal/eu/gdpr#"
    assert document["@context"]["loc"] == "https://w3id.org/dpv/loc#"
    assert document == dpv_document(policy)


def test_dpv_describes_controller_purposes_and_measures(policy: Policy) -> None:
    graph = _graph(policy)
    assert graph["controller"]["@type"] == "dpv:DataController"
    assert graph["controller"]["dpv:hasDataProtectionOfficer"]["dpv:hasContact"] == (
        policy.organization.dpo.email
    )
    for purpose_id in policy.purposes:
        assert graph[f"purpose/{purpose_id}"]["@type"] == "dpv:Purpose"
        handling = graph[f"handling/{purpose_id}"]
        assert handling["@type"] == "dpv:PersonalDataHandling"
        assert _ids(handling["dpv:hasPurpose"]) == [graph[f"purpose/{purpose_id}"]["@id"]]
        measures = _ids(handling["dpv:hasTechnicalOrganisationalMeasure"])
        assert len(measures) == len(policy.security_measures)
    assert graph["purpose/provide.credit_check"]["skos:broader"]["@id"].endswith("#purpose/provide")
    for measure_id, measure in policy.security_measures.items():
        assert graph[f"measure/{measure_id}"]["@type"] == f"dpv:{measure.dpv}"


def test_dpv_locates_every_region(policy: Policy) -> None:
    graph = _graph(policy)
    for region_id, region in policy.regions.items():
        node = graph[f"region/{region_id}"]
        assert node["@type"] == "dpv:StorageLocation"
        assert node["dpv:hasLocation"] == {"@id": f"loc:{region.country}"}
    handling = graph["handling/provide"]
    assert _ids(handling["dpv:hasLocation"]) == [
        f"loc:{r.country}" for r in policy.regions.values()
    ]


@pytest.mark.parametrize(
    ("basis", "iri"),
    [
        ("consent", "eu-gdpr:A6-1-a"),
        ("contract", "eu-gdpr:A6-1-b"),
        ("legal_obligation", "eu-gdpr:A6-1-c"),
        ("vital_interests", "eu-gdpr:A6-1-d"),
        ("public_task", "eu-gdpr:A6-1-e"),
        ("legitimate_interests", "eu-gdpr:A6-1-f"),
    ],
)
def test_dpv_maps_gdpr_bases(policy: Policy, basis: str, iri: str) -> None:
    def ground(data: dict[str, Any]) -> None:
        data["purposes"]["improve_use"]["grounds"]["gdpr"]["basis"] = basis

    handling = _graph(_variant(policy, ground))["handling/improve_use"]
    assert _ids(handling["dpv:hasLegalBasis"]) == [iri]  # other regimes have no DPV concept
    assert len(handling["dpv:hasLegalBasis"]) == len(policy.regimes)


def test_dpv_recipients_are_the_purposes_processors(policy: Policy) -> None:
    graph = _graph(policy)
    credit = _ids(graph["handling/provide.credit_check"]["dpv:hasRecipient"])
    assert credit == [graph["processor/crediva"]["@id"]]
    assert graph["processor/crediva"]["@type"] == "dpv:DataProcessor"
    assert graph["processor/crediva"]["dpv:hasCountry"] == {"@id": "loc:DE"}


def test_dpv_transfers_name_their_mechanisms(policy: Policy) -> None:
    graph = _graph(policy)
    eu_us = graph["transfer/eu/us"]
    assert eu_us["dpv:hasProcessing"] == {"@id": "dpv:CrossBorderTransfer"}
    assert eu_us["dpv:hasThirdCountry"] == {"@id": "loc:US"}
    tools = {b["@id"].split("#")[1]: b["@type"][1] for b in eu_us["dpv:hasLegalBasis"]}
    assert tools == {"mechanism/eu_dpf": "eu-gdpr:A45-3", "mechanism/eu_scc": "eu-gdpr:A46-2-c"}
    # A UK export is not a GDPR transfer tool.
    assert all("@type" not in b for b in graph["transfer/uk/us"]["dpv:hasLegalBasis"])
    assert graph["mechanism/eu_adequacy_uk"]["dct:valid"]["@value"] == "2031-12-27"
    # Transfers the exporting law does not restrict are not described.
    assert "transfer/us/eu" not in graph
    provide = _ids(graph["handling/provide"]["dpv:hasPersonalDataHandling"])
    legal = _ids(graph["handling/legal"]["dpv:hasPersonalDataHandling"])
    assert graph["transfer/apac/IN"]["@id"] in provide
    assert graph["transfer/apac/IN"]["@id"] not in legal  # Sahaya does not serve 'legal'


def test_cli_exports_dpv_to_a_file(policy: Policy, tmp_path: Path) -> None:
    out = tmp_path / "policy.jsonld"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "servinfo",
            "policy",
            "export",
            "--format",
            "dpv",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text("utf-8"))
    purposes = [n for n in document["@graph"] if n.get("@type") == "dpv:Purpose"]
    assert len(purposes) == len(policy.purposes)
