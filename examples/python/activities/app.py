"""`py-activities`: activities written in Python, callable from any workflow,
Python or Rust (payloads are JSON either way).

Each prints one line per attempt, `effect key=<idempotency key>
activity=<name> attempt=<n> output=<output>`, like the Rust
`hello-activities`, so tests can check that a side effect keeps its key.
Names start with `py_`: the host routes an activity name to the component
deployed last that serves it, so they must not clash with the Rust ones.

- `py_welcome` `{"customer": "ada", "plan": "basic"}` -> a welcome line
  (called by `examples/python/subscription`).
- `py_word_count` `"some text"` -> `{"words": 2, "chars": 9, "top": "some"}`.
- `py_check_email` `"a@b.c"` -> the address normalized; fails for good with
  kind `InvalidEmail` when it is not one (a typed failure).
- `py_count_to` `{"n": 5}` -> 5, counting in one attempt and heartbeating
  the count, so a later attempt resumes from the last heartbeat.
"""

import collections
from dataclasses import dataclass

import weft


class InvalidEmail(weft.Failure):
    non_retryable = True


def effect(ctx: weft.ActivityCtx, output: object) -> None:
    print(
        f"effect key={ctx.idempotency_key} activity={ctx.name} "
        f"attempt={ctx.attempt} output={output}",
        flush=True,
    )


@dataclass
class Welcome:
    customer: str
    plan: str = "basic"


@weft.activity
def py_welcome(ctx: weft.ActivityCtx, w: Welcome) -> str:
    text = f"Welcome, {w.customer}: your {w.plan} plan is active"
    effect(ctx, text)
    return text


@weft.activity
def py_word_count(text: str) -> dict:
    words = text.split()
    top = collections.Counter(w.lower() for w in words).most_common(1)
    return {"words": len(words), "chars": len(text), "top": top[0][0] if top else None}


@weft.activity
def py_check_email(ctx: weft.ActivityCtx, address: str) -> str:
    local, at, domain = address.strip().partition("@")
    if not at or not local or "." not in domain:
        raise InvalidEmail(f"{address!r} is not an email address", details={"address": address})
    normalized = f"{local}@{domain.lower()}"
    effect(ctx, normalized)
    return normalized


@dataclass
class Count:
    n: int


@weft.activity
def py_count_to(ctx: weft.ActivityCtx, c: Count) -> int:
    done = ctx.heartbeat_details(int, default=0)
    while done < c.n:
        done += 1
        if ctx.heartbeat(done):
            raise weft.Cancelled("py_count_to was cancelled")
    effect(ctx, done)
    return done
