"""A test environment for weft workflows, in plain Python (standard library only).

Tests of workflow logic with pytest (or unittest), without starting a
server by hand: each environment starts its own `weft` host on a temporary
directory with the manual clock, deploys the components under test, serves
activities with mocks written in Python, and skips time.

    from weft_testing import WorkflowEnvironment

    def charge(ctx, invoice):                    # a mock of activity `charge`
        return {"charged": invoice["amount_cents"]}

    def test_a_month_is_billed():
        with WorkflowEnvironment(["subscription.wasm"], mocks={"charge": charge}) as env:
            run = env.start("subscription", {"customer": "ada", "plan": "basic"})
            env.signal(run, "change-plan", "pro")
            env.skip("30d")                      # a month in milliseconds
            assert env.query(run, "status")["plan"] == "pro"

- `WEFT_BIN` names the `weft` binary (default: `weft` on PATH); its guest
  contract must be at least this module's `CONTRACT`.
- Mocks run on a private task queue the host routes their names to
  (`weft server --route-activity NAME=QUEUE`): the workflow code is the
  code you ship, unchanged.
- `result()` skips time automatically while nothing but timers is pending:
  it stops skipping while an activity, a mock or a workflow task runs, and
  moves the clock to the next timer (or retry backoff) once the host is idle.
- Each environment is its own host and its own clock: tests running in
  parallel do not share time.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from weft_worker import ActivityError, Cancelled, Worker  # noqa: F401 (re-exported)

#: The `weft:workflow` contract this SDK is written against.
CONTRACT = "0.1.3"

#: The task queue the environment's mocks poll.
MOCK_QUEUE = "weft-test-mocks"

_UNITS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def duration_ms(value):
    """Milliseconds from an int, a `datetime.timedelta`, or text like `90s`, `1h30m`, `30d`."""
    if isinstance(value, bool):
        raise TypeError("a duration is a number of milliseconds, a timedelta or text like '30d'")
    if isinstance(value, int):
        return value
    if hasattr(value, "total_seconds"):
        return int(value.total_seconds() * 1000)
    text = str(value).strip()
    parts = re.findall(r"(\d+)\s*(ms|s|m|h|d)", text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise ValueError(f"{value!r} is not a duration: use milliseconds or e.g. '500ms', '90s', '2h', '30d'")
    return sum(int(n) * _UNITS[u] for n, u in parts)


class WorkflowFailed(Exception):
    """The execution ended without an output: failed, cancelled, terminated or stalled."""

    def __init__(self, result):
        self.status = result.get("status")
        self.failure = result.get("failure") or {}
        self.stall_reason = result.get("stall_reason")
        what = self.stall_reason or self.failure.get("message") or ""
        super().__init__(f"execution {result.get('id')} ended {self.status}: {what}")


class ApiError(Exception):
    """The host refused a request; `status` is the HTTP status."""

    def __init__(self, status, message):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class UpdateRejected(ApiError):
    """The update's validator rejected it: nothing was recorded."""


def _contract_of(binary):
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise RuntimeError(
            f"no weft binary at {binary!r}: set WEFT_BIN to the `weft` you test with, or put it on PATH"
        ) from None
    found = re.search(r"weft:workflow@(\d+)\.(\d+)\.(\d+)", out.stdout)
    if not found:
        raise RuntimeError(
            f"{binary} --version says {out.stdout.strip()!r}, which names no guest contract: "
            "it is older than this test environment; use a newer weft"
        )
    return tuple(int(n) for n in found.groups())


class _MockWorker(Worker):
    """The mocks' worker: short polls, stopped with the environment."""

    def __init__(self, server, mocks):
        super().__init__(server, MOCK_QUEUE, mocks, poll_ms=300)
        self.stopping = threading.Event()

    def loop(self):
        while not self.stopping.is_set():
            try:
                self.poll_once()
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                if self.stopping.wait(0.05):
                    return


class WorkflowEnvironment:
    """A private weft host with a manual clock; use it as a context manager.

    `modules`: component files to deploy (a workflow's type is its file
    name without `.wasm`, or give `(path, type_name)`); activity components
    are deployed as such. `mocks`: activity name -> `fn(ctx, input)`, as for
    `weft_worker.Worker`. `args`: more `weft server` flags.
    """

    def __init__(self, modules=(), mocks=None, weft_bin=None, args=(), timeout=60.0):
        self.mocks = dict(mocks or {})
        self.timeout = timeout
        self.binary = weft_bin or os.environ.get("WEFT_BIN") or shutil.which("weft") or "weft"
        have = _contract_of(self.binary)
        want = tuple(int(n) for n in CONTRACT.split("."))
        if have[:2] != want[:2] or have < want:
            raise RuntimeError(
                f"{self.binary} provides contract {'.'.join(map(str, have))}, this SDK needs "
                f"{CONTRACT}: use a weft built for it"
            )
        self._dir = tempfile.mkdtemp(prefix="weft-test-")
        # Compiled components are shared by every environment (the host
        # checks each entry against its own build): a component compiles
        # once, not once per test.
        cache = os.environ.get("WEFT_COMPILE_CACHE") or os.path.join(
            tempfile.gettempdir(), "weft-test-compile-cache"
        )
        command = [
            self.binary, "server", "--data", os.path.join(self._dir, "data"),
            "--listen", "127.0.0.1:0", "--manual-clock", "--compile-cache", cache, *args,
        ]
        for name in self.mocks:
            command += ["--route-activity", f"{name}={MOCK_QUEUE}"]
        self._log = open(os.path.join(self._dir, "host.log"), "w+")
        self._host = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log, text=True)
        line = self._host.stdout.readline()
        if not line.startswith("listening on "):
            self._host.wait(timeout=30)
            self._log.seek(0)
            raise RuntimeError(f"the weft host did not start: {self._log.read().strip()}")
        self.url = line.split()[-1]
        self._worker = None
        try:
            for module in modules:
                self.deploy(*(module if isinstance(module, tuple) else (module,)))
            if self.mocks:
                self._worker = _MockWorker(self.url, self.mocks)
                threading.Thread(target=self._worker.loop, daemon=True).start()
        except BaseException:
            self.close()
            raise

    # The host's API.

    def _call(self, method, path, body=None, raw=None, timeout=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"content-type": "application/wasm" if raw is not None else "application/json"}
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout + 30) as resp:
                text = resp.read()
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                message = json.loads(text)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = text
            raise ApiError(e.code, message) from None
        return json.loads(text) if text else None

    def deploy(self, path, name=None):
        """Deploys a component; a workflow's type defaults to the file's name."""
        with open(path, "rb") as f:
            wasm = f.read()
        name = name or os.path.basename(path).removesuffix(".wasm")
        query = "?" + urllib.parse.urlencode({"name": name})
        return self._call("POST", "/v1/modules" + query, raw=wasm, timeout=600)

    def start(self, workflow_type, input=None, id=None):
        """Starts an execution; returns its id."""
        body = {"workflow_type": workflow_type, "input": input}
        if id is not None:
            body["id"] = id
        return self._call("POST", "/v1/executions", body)["id"]

    def signal(self, id, name, input=None):
        self._call("POST", f"/v1/executions/{_q(id)}/signals", {"name": name, "input": input})

    def query(self, id, name, input=None):
        return self._call("POST", f"/v1/executions/{_q(id)}/queries", {"name": name, "input": input})["output"]

    def update(self, id, name, input=None):
        """Runs an update and returns its result; raises `UpdateRejected` if its validator
        rejected it, `WorkflowFailed` if its handler failed."""
        try:
            answer = self._call("POST", f"/v1/executions/{_q(id)}/updates", {"name": name, "input": input})
        except ApiError as e:
            if e.status == 422:
                raise UpdateRejected(e.status, e.message) from None
            raise
        if answer.get("failure"):
            raise WorkflowFailed({"id": id, "status": answer.get("status"), "failure": answer["failure"]})
        return answer.get("output")

    def cancel(self, id, reason=None):
        """Asks the execution to cancel (its code sees the cancellation at its next wait)."""
        self._call("POST", f"/v1/executions/{_q(id)}/cancel", {"reason": reason})

    def terminate(self, id, reason=None):
        """Ends the execution at once; its code runs no more."""
        self._call("POST", f"/v1/executions/{_q(id)}/terminate", {"reason": reason})

    def describe(self, id):
        return self._call("GET", f"/v1/executions/{_q(id)}")

    def history(self, id):
        """The history as `weft history ID --json` exports it (for `weft replay`)."""
        return self._call("GET", f"/v1/executions/{_q(id)}/history")

    def now_ms(self):
        return self._call("GET", "/v1/clock")["now_ms"]

    def skip(self, duration):
        """Moves the clock forward by `duration` (ms, timedelta or '30d'): timers due meanwhile fire."""
        ms = duration_ms(duration)
        target = self.now_ms() + ms
        deadline = time.monotonic() + self.timeout
        # In steps, so each timer fires at its own time and what it starts
        # (an activity, the next timer) happens before the clock moves on;
        # it returns once the host is idle at the target.
        while True:
            done = self._call("POST", "/v1/clock/skip", {"limit_ms": target, "wait_ms": 2000})
            held = done.get("held")
            if held == "limit":
                return done["now_ms"]
            if held == "nothing-waits":
                self._call("POST", "/v1/clock/advance", {"ms": target - done["now_ms"]})
            elif held == "busy" and time.monotonic() > deadline:
                raise TimeoutError(f"could not skip time for {self.timeout:.0f} s: {done['reason']}")

    def mock(self, name, fn):
        """Replaces the mock of activity `name` (one named when the environment started)."""
        if name not in self.mocks:
            raise KeyError(
                f"{name!r} was not mocked when the environment started: pass it in mocks= "
                "(the host routes mocked names to the test's queue at its start)"
            )
        self.mocks[name] = fn
        self._worker.activities[name] = fn

    def result(self, id, skip_time=True):
        """Waits for the execution to end and returns its output; raises `WorkflowFailed` otherwise.

        With `skip_time`, time skips to each next timer whenever the host is idle.
        """
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._call("GET", f"/v1/executions/{_q(id)}/result?wait=true&timeout_ms=50")
            if answer["status"] == "completed":
                return answer.get("output")
            if answer["status"] not in ("running",):
                raise WorkflowFailed(answer)
            self._check_served(id)
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"execution {id} still runs after {self.timeout:.0f} s: {json.dumps(self.describe(id))[:2000]}"
                )
            if skip_time:
                self._call("POST", "/v1/clock/skip", {"wait_ms": 100})

    def _check_served(self, id):
        """An activity no component and no mock serves fails at once, not after the timeout."""
        unserved = [a["name"] for a in self.describe(id).get("pending_activities", []) if a.get("unserved")]
        if unserved:
            raise RuntimeError(
                f"execution {id} waits for activity {', '.join(unserved)}, which no deployed component "
                "and no mock serves: add it to mocks= or deploy the activity component"
            )

    def host_log(self):
        """What the host wrote to stderr so far (for a failing test's message)."""
        self._log.flush()
        with open(self._log.name) as f:
            return f.read()

    def close(self):
        if self._worker is not None:
            self._worker.stopping.set()
        if self._host.poll() is None:
            self._host.terminate()
            try:
                self._host.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._host.kill()
                self._host.wait()
        self._host.stdout.close()
        self._log.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def replay(module, histories):
    """Replays a history file, or every `.json` history under a directory, against
    `module` offline (`weft replay`); raises `AssertionError` with each divergence."""
    binary = os.environ.get("WEFT_BIN") or shutil.which("weft") or "weft"
    flag = "--dir" if os.path.isdir(histories) else "--history"
    cache = os.environ.get("WEFT_COMPILE_CACHE") or os.path.join(
        tempfile.gettempdir(), "weft-test-compile-cache"
    )
    out = subprocess.run([binary, "replay", flag, str(histories), "--module", str(module)],
                         capture_output=True, text=True, env={**os.environ, "WEFT_COMPILE_CACHE": cache})
    if out.returncode != 0:
        raise AssertionError(f"replay of {histories} against {module} failed:\n{out.stdout}{out.stderr}")
    return out.stdout


def _q(id):
    return urllib.parse.quote(str(id), safe="")


if __name__ == "__main__":
    sys.exit("weft_testing is a library: import WorkflowEnvironment in your tests")
