"""Contracts and the mathematics every piece shares: the base types (`base`), the registry type
(`registry`), the result row (`rows`), local PRGs (`prg`), validation, linear algebra (`linalg`),
and reading data streams (`source`, `streaming`). Nothing here imports the rest of hardnet."""
