"""The ``helio`` command (typer). ``main`` builds the app; each file adds one group:

- ``main``   the app, logging, error handling, plugin subcommands (entry point group
             ``heliomesh.cli``, so ``gateway`` can add ``helio gateway`` without
             ``node`` importing it)
- ``model``  ``helio model convert|list``
- ``model_ipfs``  ``helio model publish|fetch`` (added to the ``model`` group)
"""
