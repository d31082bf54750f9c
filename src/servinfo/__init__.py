"""servinfo: a cloud provider's privacy notice, true by construction.

One machine-readable policy compiles to the enforcement tables, the published
notice and the records of processing. See ``servinfo.policy`` for the model.
"""

__version__ = "0.1.0"
