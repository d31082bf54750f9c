"""Errors of deployment creation and opening::

DeploymentError          (servinfo.errors.ServinfoError)
└── AlreadyInitialized   init found a deployment or a keyring it must not overwrite
"""

from __future__ import annotations

from servinfo.errors import ServinfoError


class DeploymentError(ServinfoError):
    code = "deployment_error"


class AlreadyInitialized(DeploymentError):
    code = "already_initialized"
    http_status = 409
