"""The ``servinfo`` command. The application is assembled in :mod:`servinfo.cli.app`;
this package also holds the options and output helpers every domain's commands share,
so importing those never pulls in every domain."""
