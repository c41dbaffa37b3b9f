"""DefaultBinder (``plugins/defaultbinder``): writes the binding through an injected callable.

kube-scheduler's DefaultBinder POSTs a ``Binding`` to ``pods/<name>/binding``.  Here the API server hands the
scheduler a ``bind(pod, node_name)`` callable (``Handle.bind``) that may be a plain function or a coroutine
function: the Bind extension point is async (binding runs after the scheduling cycle and may wait on the
store), and a sync callable is simply called.  An exception from the callable becomes ``Status(Code.ERROR)``
with its text; the scheduler then forgets the assumed pod and retries it after a backoff.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

from minikube_py.api import types
from minikube_py.control.scheduler.framework import BindFunc, Code, CycleState, Handle, Status
from minikube_py.control.scheduler.plugins.args import no_args


class DefaultBinder:
    NAME: ClassVar[str] = "DefaultBinder"

    def __init__(self, bind: BindFunc | None) -> None:
        self._bind = bind

    async def bind(self, state: CycleState, pod: types.Pod, node_name: str) -> Status | None:
        if self._bind is None:
            return Status(Code.ERROR, ("DefaultBinder has no bind function",), self.NAME)
        try:
            result = self._bind(pod, node_name)
            if inspect.isawaitable(result):
                await result
        except Exception as err:  # the binding failed: report it, never crash the scheduler
            return Status(Code.ERROR, (f"binding rejected: {err}",), self.NAME)
        return None


def new(args: Mapping[str, Any] | None, handle: Handle) -> DefaultBinder:
    no_args(DefaultBinder.NAME, args)
    return DefaultBinder(handle.bind)
