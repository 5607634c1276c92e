"""A stand-in for the bindings componentize-py generates (``wit_world``,
``componentize_py_types``), so the SDK's logic runs under plain CPython:
``python3 guest-sdk/python/tests/test_sdk.py``.

``FakeHost`` plays the host: commands get handles counting from 1, and
``wait`` hands out the deliveries a test queued (each a delivery or a
function of the handles waited on).
"""

from __future__ import annotations

import enum
import sys
import types as pytypes
from dataclasses import dataclass
from typing import Any, List, Optional


@dataclass
class Ok:
    value: Any


@dataclass(frozen=True)
class Err(Exception):
    value: Any


@dataclass
class Failure:
    kind: str
    message: str
    details: Optional[bytes]
    non_retryable: bool


@dataclass
class RetryPolicy:
    initial_interval_ms: int
    backoff_coefficient: float
    maximum_interval_ms: int
    maximum_attempts: int
    non_retryable_kinds: List[str]


@dataclass
class ActivityOptions:
    retry: Optional[RetryPolicy]
    start_to_close_timeout_ms: Optional[int]
    schedule_to_close_timeout_ms: Optional[int]
    schedule_to_start_timeout_ms: Optional[int]
    heartbeat_timeout_ms: Optional[int]
    task_queue: Optional[str]


@dataclass
class Completion:
    handle: int
    outcome: Any


@dataclass
class Request:
    id: int
    name: str
    input: bytes


@dataclass
class Update:
    update_id: str
    name: str
    input: bytes


@dataclass
class Delivery_Completed:
    value: Completion


@dataclass
class Delivery_Query:
    value: Request


@dataclass
class Delivery_ValidateUpdate:
    value: Request


@dataclass
class Delivery_Update:
    value: Update


@dataclass
class Delivery_Cancelled:
    value: str


class ParentClosePolicy(enum.Enum):
    TERMINATE = 0
    REQUEST_CANCEL = 1
    ABANDON = 2


class CancellationType(enum.Enum):
    TRY_CANCEL = 0
    WAIT_CANCELLATION_COMPLETED = 1
    ABANDON = 2


class IdReusePolicy(enum.Enum):
    ALLOW_DUPLICATE = 0
    ALLOW_DUPLICATE_FAILED_ONLY = 1
    REJECT_DUPLICATE = 2


@dataclass
class ChildOptions:
    id: Optional[str]
    parent_close_policy: ParentClosePolicy


@dataclass
class HistoryStats:
    length: int
    continue_as_new_suggested: bool


class LogLevel(enum.Enum):
    TRACE = 0
    DEBUG = 1
    INFO = 2
    WARN = 3
    ERROR = 4


@dataclass
class WorkflowInfo:
    workflow_type: str
    execution_id: str
    module: str
    started_at_ms: int


@dataclass
class HandlerNames:
    signals: List[str]
    queries: List[str]
    updates: List[str]


@dataclass
class ActivityInfo:
    execution_id: str
    activity_handle: int
    name: str
    attempt: int
    idempotency_key: str
    heartbeat_details: Optional[bytes]


@dataclass
class SearchValue_Keyword:
    value: str


@dataclass
class SearchValue_Text:
    value: str


@dataclass
class SearchValue_Int:
    value: int


@dataclass
class SearchValue_Double:
    value: float


@dataclass
class SearchValue_Boolean:
    value: bool


@dataclass
class SearchValue_Datetime:
    value: int


@dataclass
class SearchValue_KeywordList:
    value: List[str]


@dataclass
class SearchAttribute:
    name: str
    value: Any


@dataclass
class MemoField:
    name: str
    value: Optional[bytes]


class ContinuedAsNew(BaseException):
    pass


class FakeHost:
    def __init__(self) -> None:
        self.next = 0
        self.commands: List[tuple] = []
        self.deliveries: List[Any] = []
        self.responses: List[tuple] = []
        self.updates: List[tuple] = []
        self.logs: List[tuple] = []
        self.now_ms = 1_000_000
        self.rand = 7
        self.patches = {}
        self.heartbeats: List[Any] = []
        self.activity_info = ActivityInfo("ex-1", 3, "x", 1, "ex-1/3", None)

    def _cmd(self, *c: Any) -> int:
        self.next += 1
        self.commands.append((self.next,) + c)
        return self.next

    # runtime
    def start_activity(self, name: str, input: bytes, options: Any) -> int:
        return self._cmd("activity", name, bytes(input), options)

    def start_activity_with(self, name: str, input: bytes, options: Any, kind: Any) -> int:
        return self._cmd("activity", name, bytes(input), options, kind)

    def cancel(self, handle: int) -> None:
        self.commands.append((None, "cancel", handle))

    def start_timer(self, ms: int) -> int:
        return self._cmd("timer", ms)

    def start_child(self, t: str, input: bytes, options: Any) -> int:
        return self._cmd("child", t, bytes(input), options)

    def start_child_with_reuse(self, t: str, input: bytes, options: Any, reuse: Any) -> int:
        return self._cmd("child", t, bytes(input), options, reuse)

    def start_child_with(self, t: str, input: bytes, options: Any, reuse: Any, kind: Any) -> int:
        return self._cmd("child", t, bytes(input), options, reuse, kind)

    def continue_as_new(self, input: bytes) -> None:
        raise ContinuedAsNew(input)

    def history_info(self) -> HistoryStats:
        return HistoryStats(len(self.commands) + 1, False)

    def receive_signal(self, name: str) -> int:
        return self._cmd("receive", name)

    def try_receive_signal(self, name: str) -> Any:
        self._cmd("poll", name)
        return None

    def signal_execution(self, id: str, name: str, input: bytes) -> int:
        return self._cmd("signal-execution", id, name, bytes(input))

    def signal_child(self, child: int, name: str, input: bytes) -> int:
        return self._cmd("signal-child", child, name, bytes(input))

    def cancel_execution(self, id: str, reason: str) -> int:
        return self._cmd("cancel-execution", id, reason)

    def activity_failure(self, handle: int) -> Any:
        # No envelope: the workflow sees `Failure.activity` as None.
        return None

    def wait(self, handles: List[int]) -> Any:
        if not self.deliveries:
            raise AssertionError(f"the workflow waits on {handles} and nothing is queued")
        d = self.deliveries.pop(0)
        if callable(d):
            d = d(handles)
        if isinstance(d, Delivery_Completed):
            assert d.value.handle in handles, (d, handles)
        return d

    def respond(self, id: int, answer: Any) -> None:
        self.responses.append((id, answer))

    def complete_update(self, update_id: str, outcome: Any) -> None:
        self.updates.append((update_id, outcome))

    def patched(self, patch_id: str) -> bool:
        return self.patches.get(patch_id, True)

    def deprecate_patch(self, patch_id: str) -> None:
        self.commands.append((None, "deprecate", patch_id))

    def upsert_search_attributes(self, attributes: List[Any]) -> None:
        self._cmd("search", attributes)

    def upsert_memo(self, fields: List[Any]) -> None:
        self._cmd("memo", fields)

    def search_attributes(self) -> List[Any]:
        return [SearchAttribute("Stage", SearchValue_Keyword("two")),
                SearchAttribute("DueAt", SearchValue_Datetime(1_793_491_200_000))]

    def memo(self) -> List[Any]:
        return [MemoField("note", b'{"by":"ada"}')]

    def now(self) -> int:
        return self.now_ms

    def random(self) -> int:
        self.rand = (self.rand * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return self.rand

    def log(self, level: Any, message: str) -> None:
        self.logs.append((level, message))

    def info(self) -> WorkflowInfo:
        return WorkflowInfo("t", "ex-1", "abc", 1_000_000)

    # activity-context
    def activity_ctx_info(self) -> ActivityInfo:
        return self.activity_info

    def heartbeat(self, details: Optional[bytes]) -> bool:
        self.heartbeats.append(details)
        return False


HOST = FakeHost()


def completed(handle: int, payload: bytes = b"") -> Delivery_Completed:
    return Delivery_Completed(Completion(handle, Ok(payload)))


def failed(handle: int, kind: str, message: str, details: Optional[bytes] = None,
           non_retryable: bool = False) -> Delivery_Completed:
    return Delivery_Completed(Completion(handle, Err(Failure(kind, message, details, non_retryable))))


def install() -> FakeHost:
    """Puts the fake modules in sys.modules and returns a fresh host."""
    global HOST
    HOST = FakeHost()
    cpt = pytypes.ModuleType("componentize_py_types")
    cpt.Ok, cpt.Err = Ok, Err
    ww = pytypes.ModuleType("wit_world")
    ww.HandlerNames = HandlerNames
    imports = pytypes.ModuleType("wit_world.imports")
    types_mod = pytypes.ModuleType("wit_world.imports.types")
    types_mod.Failure = Failure
    rt = pytypes.ModuleType("wit_world.imports.runtime")
    for k, v in list(globals().items()):
        if isinstance(v, type) and k not in ("FakeHost",):
            setattr(rt, k, v)
    for name in (
        "start_activity", "cancel", "start_timer", "start_child", "continue_as_new",
        "history_info", "receive_signal", "wait", "respond", "complete_update", "patched",
        "deprecate_patch", "now", "random", "log", "info", "try_receive_signal",
        "activity_failure", "signal_execution", "signal_child", "cancel_execution",
        "start_child_with_reuse", "start_activity_with", "start_child_with",
        "upsert_search_attributes", "upsert_memo", "search_attributes", "memo",
    ):
        setattr(rt, name, (lambda n: lambda *a: getattr(HOST, n)(*a))(name))
    ac = pytypes.ModuleType("wit_world.imports.activity_context")
    ac.info = lambda: HOST.activity_ctx_info()
    ac.heartbeat = lambda d: HOST.heartbeat(d)
    imports.runtime, imports.types, imports.activity_context = rt, types_mod, ac
    ww.imports = imports
    sys.modules.update(
        {
            "componentize_py_types": cpt,
            "wit_world": ww,
            "wit_world.imports": imports,
            "wit_world.imports.types": types_mod,
            "wit_world.imports.runtime": rt,
            "wit_world.imports.activity_context": ac,
        }
    )
    return HOST
