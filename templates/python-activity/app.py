"""The `{{name}}` activities. Build with `weft build`, deploy with
`weft deploy {{name}}.wasm`; a workflow then calls
`ctx.activity("{{name}}.hello", "world")`.

An activity may run more than once (retries, crashes): key side effects on
`ctx.idempotency_key`. Return any JSON value; raise `weft.Failure` to fail
the attempt (retried unless non-retryable). Activity names are global on a
host, so they start with the component's name.
"""

import weft


@weft.activity(name="{{name}}.hello")
def hello(ctx: weft.ActivityCtx, name: str) -> str:
    if not name:
        raise weft.Failure("InvalidInput", "give a name", non_retryable=True)
    return f"Hello, {name}! (attempt {ctx.attempt})"
