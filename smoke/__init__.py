"""`make smoke`: is a deployed relay working, end to end, right now? (docs/operations.md, "Smoke test").

`smoke.target` finds the URL and a token (stack outputs, `TOKEN`, a temporary Cognito user, localgw's dev issuer);
`smoke.checks` runs the checks through the Python client library (`relay_client`); `python -m smoke` prints one line
per check and exits non-zero when any failed.
"""
