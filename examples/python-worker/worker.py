"""An external weft worker in Python serving `py_square` on a task queue.

    python3 examples/python-worker/worker.py --server http://127.0.0.1:7700 --queue python

For a host with an API token: `--token` (or WEFT_TOKEN). For an https://
host: `--ca-cert` (a private authority to trust), and `--client-cert` with
`--client-key` for a host that asks for client certificates
(`--client-ca`); or WEFT_CA_CERT, WEFT_CLIENT_CERT and WEFT_CLIENT_KEY, as
the weft CLI takes them.

Input `{"n": 7}` -> 49. With `"crash": true`, the first attempt heartbeats
once and then the process dies, to show a lost worker being covered by the
heartbeat timeout (the next attempt sees the heartbeat's details).
"""

import argparse
import os
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "guest-sdk", "python"))

from weft_worker import Worker  # noqa: E402


def py_square(ctx, payload):
    ctx.heartbeat({"attempt": ctx.attempt, "seen": ctx.heartbeat_details})
    if payload.get("crash") and ctx.attempt == 1:
        print("py_square: crashing on purpose", flush=True)
        os._exit(17)
    print(f"py_square: attempt {ctx.attempt} key={ctx.idempotency_key}", flush=True)
    return {"square": payload["n"] ** 2, "attempt": ctx.attempt,
            "resumed_from": ctx.heartbeat_details}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=os.environ.get("WEFT_SERVER", "http://127.0.0.1:7700"))
    parser.add_argument("--queue", default="python")
    parser.add_argument("--once", action="store_true", help="run one task, then exit")
    parser.add_argument("--ca-cert", default=os.environ.get("WEFT_CA_CERT"))
    parser.add_argument("--client-cert", default=os.environ.get("WEFT_CLIENT_CERT"))
    parser.add_argument("--client-key", default=os.environ.get("WEFT_CLIENT_KEY"))
    parser.add_argument("--token", default=os.environ.get("WEFT_TOKEN"))
    args = parser.parse_args()
    context = None
    if args.ca_cert or args.client_cert:
        context = ssl.create_default_context(cafile=args.ca_cert)
        if args.client_cert:
            context.load_cert_chain(args.client_cert, args.client_key)
    worker = Worker(args.server, args.queue, {"py_square": py_square}, ssl_context=context,
                    token=args.token)
    if args.once:
        while not worker.poll_once():
            pass
        return
    worker.run()


if __name__ == "__main__":
    main()
