"""DocuMind Workers' common package: settings, database, contracts, broker, storage, vectors.

Importing it has no side effects: nothing is configured or connected until a composition
root (a service's ``worker.setup`` or the CLI) asks for it.
"""

__version__ = "0.1.0"
