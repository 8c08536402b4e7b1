"""`citeqa serve --engine ray`: Ray Serve deployments over a sharded index (see app.py).

Nothing is re-exported: only the `--engine ray` path imports these modules.
"""
