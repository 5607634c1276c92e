"""A worker for weft task queues, in plain Python (standard library only).

A workflow sends an activity to a queue with a task queue option; a worker
long-polls that queue, runs the activity, and answers by task token:

    from weft_worker import Worker

    def square(ctx, payload):
        ctx.heartbeat({"step": 1})          # progress, kept for a retry
        return payload["n"] ** 2

    Worker("http://127.0.0.1:7700", "python", {"py_square": square}).run()

An activity raises to fail (`ActivityError(kind, message, non_retryable)`
for a typed failure); it is retried under the workflow's retry policy. A
worker that dies mid-task is covered by the heartbeat and start-to-close
timeouts: the task goes to another worker, with the last heartbeat's details
in `ctx.heartbeat_details`.
"""

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class ActivityError(Exception):
    """A typed failure: `kind` is machine-readable, `message` for people."""

    def __init__(self, kind, message, non_retryable=False, details=None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.non_retryable = non_retryable
        self.details = details


class Cancelled(Exception):
    """Raised by `ctx.heartbeat` when the activity was cancelled."""


class TaskContext:
    """What an activity knows about its attempt."""

    def __init__(self, worker, task):
        self._worker = worker
        self.token = task["token"]
        self.execution_id = task["execution_id"]
        self.name = task["name"]
        self.attempt = task["attempt"]
        self.idempotency_key = task["idempotency_key"]
        self.heartbeat_details = task.get("heartbeat_details")

    def heartbeat(self, details=None):
        """Reports progress; raises `Cancelled` if the activity was cancelled.
        A heartbeat no host takes now (a failover, a host restarting) is
        skipped: the next one reaches whichever host runs the task then."""
        path = f"/v1/tasks/{urllib.parse.quote(self.token)}/heartbeat"
        try:
            answer = self._worker._post(path, {"details": details})
        except urllib.error.HTTPError as e:
            if e.code < 500:
                raise
            print(f"weft worker: {path}: {e.code}; skipped", file=sys.stderr)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            print(f"weft worker: {path}: {e}; skipped", file=sys.stderr)
            return
        if answer and answer.get("cancel_requested"):
            raise Cancelled(self.name)


class Worker:
    """Polls one task queue and runs the activities it is given."""

    def __init__(self, server, queue, activities, poll_ms=20000, answer_retry_s=300,
                 ssl_context=None, token=None):
        """`token`: the host's API token (its --token or --control-token),
        sent as `Authorization: Bearer`. `ssl_context`: an `ssl.SSLContext`
        for an https:// host, e.g. one that trusts a private authority and
        presents this worker's client certificate to a host started with
        --client-ca: `ctx = ssl.create_default_context(cafile="ca.pem");
        ctx.load_cert_chain("worker.pem", "worker.key")`."""
        self.token = token
        self.server = server.rstrip("/")
        self.queue = queue
        self.activities = dict(activities)
        self.poll_ms = poll_ms
        self.answer_retry_s = answer_retry_s
        self.ssl_context = ssl_context

    def _post(self, path, body, timeout=30):
        data = json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.server + path, data=data, headers=headers)
        with urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context) as resp:
            text = resp.read()
            return json.loads(text) if text else None

    def poll_once(self):
        """Takes one task (waiting up to poll_ms) and runs it; False if none came."""
        path = f"/v1/task-queues/{urllib.parse.quote(self.queue)}/poll?wait_ms={self.poll_ms}"
        task = self._post(path, {}, timeout=self.poll_ms / 1000 + 30)
        if not task:
            return False
        self.run_task(task)
        return True

    def run_task(self, task):
        ctx = TaskContext(self, task)
        token = urllib.parse.quote(task["token"])
        fn = self.activities.get(task["name"])
        try:
            if fn is None:
                raise ActivityError(
                    "activity-not-found",
                    f"this worker does not serve {task['name']!r}; it serves {sorted(self.activities)}",
                    non_retryable=True,
                )
            output = fn(ctx, task["input"])
        except Cancelled:
            failure = {"kind": "cancelled", "message": f"{task['name']} was cancelled",
                       "details": None, "non_retryable": True}
            self._answer(f"/v1/tasks/{token}/fail", {"failure": failure})
            return
        except ActivityError as e:
            failure = {"kind": e.kind, "message": e.message, "details": e.details,
                       "non_retryable": e.non_retryable}
            self._answer(f"/v1/tasks/{token}/fail", {"failure": failure})
            return
        except Exception as e:  # any other error is a retryable failure
            failure = {"kind": type(e).__name__, "message": str(e), "details": None,
                       "non_retryable": False}
            self._answer(f"/v1/tasks/{token}/fail", {"failure": failure})
            return
        self._answer(f"/v1/tasks/{token}/complete", {"output": output})

    def _answer(self, path, body):
        """Sends an answer until a host records it. A host answers only once
        the answer is recorded; one that died first (or a cluster between
        two holders) leaves it unanswered, and any host takes it again under
        the same token, so it is sent again for up to `answer_retry_s`."""
        deadline = time.monotonic() + self.answer_retry_s
        delay = 0.5
        while True:
            try:
                self._post(path, body)
                return
            except urllib.error.HTTPError as e:
                text = e.read().decode(errors="replace")
                if e.code < 500:
                    # A stale token: the attempt ended (timed out, cancelled)
                    # meanwhile, or this answer was recorded already.
                    print(f"weft worker: {path}: {text}", file=sys.stderr)
                    return
                reason = f"{e.code} {text}"
            except OSError as e:  # unreachable, refused, TLS
                reason = _unreachable(e)
            if time.monotonic() >= deadline:
                print(f"weft worker: {path}: gave up after {self.answer_retry_s}s: {reason}",
                      file=sys.stderr)
                return
            print(f"weft worker: {path}: {reason}; sending it again", file=sys.stderr)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def run(self):
        """Polls forever; retries the connection when the host is away."""
        while True:
            try:
                self.poll_once()
            except urllib.error.HTTPError as e:
                text = e.read().decode(errors="replace")
                hint = " (give the worker the host's API token)" if e.code in (401, 403) else ""
                print(f"weft worker: {e.code} {text}{hint}; retrying", file=sys.stderr)
                time.sleep(1)
            except OSError as e:  # unreachable, refused, TLS
                print(f"weft worker: {_unreachable(e)}; retrying", file=sys.stderr)
                time.sleep(1)


def _unreachable(e):
    """What went wrong reaching the host, with what to do about TLS."""
    text = str(getattr(e, "reason", e))
    if "CERTIFICATE_REQUIRED" in text:
        return (f"{text}: the host asks for a client certificate "
                "(give the worker one its --client-ca signed, with its key)")
    if "UNKNOWN_CA" in text or "BAD_CERTIFICATE" in text or "UNSUPPORTED_CERTIFICATE" in text:
        return (f"{text}: the host refused the worker's client certificate "
                "(it must be signed by an authority of the host's --client-ca, for clientAuth)")
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return f"{text}: the worker does not trust the host's certificate (give it the authority)"
    return text
