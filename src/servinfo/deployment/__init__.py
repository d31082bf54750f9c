"""A deployment: one data directory, its settings, policy, keyring and databases.

:func:`create_deployment` makes a new one (``servinfo init``);
:func:`open_deployment` opens an existing one for every other command and for
the server. This package is the composition root: it wires the domain packages
together and is the only place that knows how they are built from settings.
"""

from servinfo.deployment.create import InitResult, create_deployment
from servinfo.deployment.errors import AlreadyInitialized, DeploymentError
from servinfo.deployment.runtime import Deployment, open_deployment

__all__ = [
    "AlreadyInitialized",
    "Deployment",
    "DeploymentError",
    "InitResult",
    "create_deployment",
    "open_deployment",
]
