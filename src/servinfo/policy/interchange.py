"""Exports of the policy for other privacy tools.

- :func:`export_fideslang`: a fideslang manifest (``fides``' YAML), in
  :mod:`servinfo.policy._fideslang`;
- :func:`export_dpv`: W3C Data Privacy Vocabulary 2.x JSON-LD, in
  :mod:`servinfo.policy._dpv`.

:func:`unknown_fideslang_keys` lists the fideslang keys a policy uses that are
neither standard nor declared in its ``fideslang_extensions``.
"""

from __future__ import annotations

from servinfo.policy._dpv import dpv_document, export_dpv
from servinfo.policy._fideslang import (
    export_fideslang,
    fideslang_manifest,
    redundant_fideslang_extensions,
    unknown_fideslang_keys,
)

__all__ = [
    "dpv_document",
    "export_dpv",
    "export_fideslang",
    "fideslang_manifest",
    "redundant_fideslang_extensions",
    "unknown_fideslang_keys",
]
