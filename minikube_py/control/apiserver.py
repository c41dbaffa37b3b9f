"""The Kubernetes-shaped API server: routes, request parsing, admission, watch streams.

Handlers parse, call ``ApiService`` (which holds the rules), and serialize; every error becomes a Status in
the middleware through ``errors.to_api_error`` (the one table).  State lives in the ``Store``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web
from aiohttp.typedefs import Middleware

from minikube_py import __version__
from minikube_py.api import codec, qos, types
from minikube_py.api import field as api_field
from minikube_py.control import auth, errors, patch, quota, selectors
from minikube_py.control import metrics as metrics_mod
from minikube_py.control import store as store_mod
from minikube_py.control.registry import RESOURCES, Resource

log = logging.getLogger(__name__)

MAX_BODY = 3 * 1024 * 1024  # the apiserver's default request size limit
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
BUILTIN_PRIORITY_CLASSES = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}
DEFAULT_TOLERATION_SECONDS = 300  # DefaultTolerationSeconds admission plugin
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's generateName alphabet


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ApiConfig:
    max_body: int = MAX_BODY
    watch_bookmark_interval: float = 60.0


class ApiService:
    """The rules of the API, independent of HTTP: create/get/list/update/patch/delete with admission."""

    def __init__(self, store: store_mod.Store, config: ApiConfig | None = None) -> None:
        self.store = store
        self.config = config or ApiConfig()
        self._namespace_locks: dict[str, asyncio.Lock] = {}
        self.on_pod_change: list[Callable[[dict[str, Any]], None]] = []

    async def bootstrap(self) -> None:
        for name in SYSTEM_NAMESPACES:
            with contextlib.suppress(store_mod.AlreadyExists):
                await self.create(
                    RESOURCES["namespaces"], "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                )

    # --- helpers

    @staticmethod
    def key(resource: Resource, namespace: str, name: str) -> store_mod.Key:
        return store_mod.Key(resource.plural, namespace if resource.namespaced else "", name)

    def _decode(self, resource: Resource, data: dict[str, Any]) -> Any:
        try:
            return codec.decode(resource.cls, data)
        except codec.DecodeError as err:
            raise errors.ApiError(400, "BadRequest", str(err), err.status()["details"]) from err

    def _check_kind(self, resource: Resource, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise errors.bad_request(f"the body must be a {resource.kind} object, got {type(data).__name__}")
        kind = data.get("kind")
        if kind not in (None, "", resource.kind):
            raise errors.bad_request(f"the kind of the body ({kind}) does not match the resource ({resource.kind})")
        api_version = data.get("apiVersion")
        if api_version not in (None, "", resource.api_version):
            raise errors.bad_request(
                f"the apiVersion of the body ({api_version}) does not match the resource ({resource.api_version})"
            )
        return data

    async def namespace_exists(self, namespace: str) -> bool:
        try:
            await self.store.get(store_mod.Key("namespaces", "", namespace))
            return True
        except store_mod.NotFound:
            return False

    # --- admission

    async def _admit_pod(self, pod: types.Pod, namespace: str, *, dry_run: bool) -> None:
        await self._resolve_priority(pod)
        _add_default_tolerations(pod)
        pod.status.phase = pod.status.phase or "Pending"
        pod.status.qos_class = qos.pod_qos_class(pod).value
        quotas = await self.store.list("resourcequotas", namespace)
        if not quotas.items:
            return
        pods = [codec.decode(types.Pod, p) for p in (await self.store.list("pods", namespace)).items]
        for raw in quotas.items:
            rq = codec.decode(types.ResourceQuota, raw)
            used = quota.compute_used(rq, pods)
            reason = quota.admit_pod(rq, pod, used)
            if reason is not None:
                raise errors.forbidden("pods", pod.metadata.name, reason)

    async def _resolve_priority(self, pod: types.Pod) -> None:
        name = pod.spec.priority_class_name
        value = 0
        if name:
            if name in BUILTIN_PRIORITY_CLASSES:
                value = BUILTIN_PRIORITY_CLASSES[name]
            else:
                try:
                    pc = await self.store.get(store_mod.Key("priorityclasses", "", name))
                except store_mod.NotFound as err:
                    raise errors.forbidden(
                        "pods", pod.metadata.name, f"no PriorityClass with name {name} was found"
                    ) from err
                value = int(pc.get("value", 0))
                if pod.spec.preemption_policy is None and pc.get("preemptionPolicy"):
                    pod.spec.preemption_policy = pc["preemptionPolicy"]
        else:
            for pc in (await self.store.list("priorityclasses")).items:
                if pc.get("globalDefault"):
                    value, pod.spec.priority_class_name = int(pc.get("value", 0)), pc["metadata"]["name"]
                    break
        if pod.spec.priority is not None and pod.spec.priority != value:
            raise errors.forbidden(
                "pods",
                pod.metadata.name,
                f"the integer value of priority ({pod.spec.priority}) must not be provided in pod spec; "
                f"priority admission controller computed {value} from the given PriorityClass name",
            )
        pod.spec.priority = value
        if pod.spec.preemption_policy is None:
            pod.spec.preemption_policy = "PreemptLowerPriority"

    async def refresh_quota_status(self, namespace: str) -> None:
        quotas = (await self.store.list("resourcequotas", namespace)).items
        if not quotas:
            return
        pods = [codec.decode(types.Pod, p) for p in (await self.store.list("pods", namespace)).items]
        for raw in quotas:
            rq = codec.decode(types.ResourceQuota, raw)
            used = quota.compute_used(rq, pods)
            status = {
                "hard": {k: str(v) for k, v in rq.spec.hard.items()},
                "used": {k: str(v) for k, v in used.items()},
            }
            if raw.get("status") == status:
                continue
            raw = dict(raw)
            raw["status"] = status
            with contextlib.suppress(store_mod.Conflict, store_mod.NotFound):
                await self.store.update(self.key(RESOURCES["resourcequotas"], namespace, rq.metadata.name), raw)

    # --- verbs

    async def create(self, resource: Resource, namespace: str, data: Any, *, dry_run: bool = False) -> dict[str, Any]:
        data = self._check_kind(resource, data)
        meta = data.setdefault("metadata", {}) if isinstance(data.get("metadata", {}), dict) else None
        if meta is None:
            raise errors.bad_request("metadata must be an object")
        if resource.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choice(_NAME_SUFFIX_ALPHABET) for _ in range(5))
        obj = self._decode(resource, data)
        resource.default(obj)
        problems = resource.validate(obj)
        if problems:
            raise errors.invalid(resource.kind, obj.metadata.name, problems)
        if resource.namespaced and not await self.namespace_exists(namespace):
            raise errors.not_found("namespaces", namespace)
        obj.metadata.uid = str(uuid.uuid4())
        obj.metadata.creation_timestamp = now_rfc3339()
        obj.metadata.resource_version = ""
        obj.metadata.deletion_timestamp = None
        if resource.plural == "namespaces":
            obj.status.phase = "Active"
        lock = self._namespace_locks.setdefault(namespace, asyncio.Lock())
        async with lock:  # quota admission and the write must not interleave with another pod create
            if resource.plural == "pods":
                await self._admit_pod(obj, namespace, dry_run=dry_run)
            encoded = codec.encode(obj)
            encoded["apiVersion"], encoded["kind"] = resource.api_version, resource.kind
            if dry_run:
                return encoded
            stored = await self.store.create(self.key(resource, namespace, obj.metadata.name), encoded)
        if resource.plural in ("pods", "resourcequotas"):
            await self.refresh_quota_status(namespace)
        return stored

    async def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
        try:
            return await self.store.get(self.key(resource, namespace, name))
        except store_mod.NotFound as err:
            raise errors.not_found(resource.plural, name, resource.group) from err

    async def update(
        self, resource: Resource, namespace: str, name: str, data: Any, *, subresource: str = ""
    ) -> dict[str, Any]:
        data = self._check_kind(resource, data)
        current = await self.get(resource, namespace, name)
        meta = data.get("metadata") or {}
        if meta.get("name") not in (None, "", name):
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        expected = meta.get("resourceVersion") or None
        if subresource == "status":
            merged = dict(current)
            merged["status"] = data.get("status", {})
        else:
            merged = dict(data)
            merged["status"] = current.get("status", {})
            merged_meta = dict(meta)
            for keep in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace"):
                if keep in current.get("metadata", {}):
                    merged_meta[keep] = current["metadata"][keep]
            merged_meta["name"] = name
            merged["metadata"] = merged_meta
        merged["apiVersion"], merged["kind"] = resource.api_version, resource.kind
        obj = self._decode(resource, merged)
        resource.default(obj)
        if resource.plural == "pods" and subresource != "status":
            _add_default_tolerations(obj)  # DefaultTolerationSeconds mutates updates too
        problems = resource.validate(obj)
        if resource.plural == "pods" and subresource != "status":
            problems += _pod_update_problems(current, codec.encode(obj))
        if problems:
            raise errors.invalid(resource.kind, name, problems)
        encoded = codec.encode(obj)
        encoded["apiVersion"], encoded["kind"] = resource.api_version, resource.kind
        try:
            stored = await self.store.update(
                self.key(resource, namespace, name), encoded, expected_resource_version=expected
            )
        except store_mod.Conflict as err:
            raise errors.conflict(resource.plural, name, errors.ROTTEN, resource.group) from err
        if resource.plural == "pods" or (resource.plural == "resourcequotas" and subresource != "status"):
            await self.refresh_quota_status(namespace)
        return stored

    async def patch(
        self, resource: Resource, namespace: str, name: str, body: Any, content_type: str, *, subresource: str = ""
    ) -> dict[str, Any]:
        apply = patch.PATCH_TYPES.get(content_type)
        if apply is None:
            raise errors.unsupported_media_type(content_type)
        current = await self.get(resource, namespace, name)
        patched = apply(current, body)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch did not produce an object")
        patched.setdefault("metadata", {})["resourceVersion"] = current["metadata"].get("resourceVersion")
        if isinstance(body, dict) and isinstance(body.get("metadata"), dict) and "resourceVersion" in body["metadata"]:
            patched["metadata"]["resourceVersion"] = body["metadata"]["resourceVersion"]
        return await self.update(resource, namespace, name, patched, subresource=subresource)

    async def delete(
        self, resource: Resource, namespace: str, name: str, *, grace_seconds: int | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        current = await self.get(resource, namespace, name)
        if resource.plural == "namespaces" and name in SYSTEM_NAMESPACES[:2]:
            raise errors.forbidden("namespaces", name, "this namespace may not be deleted")
        if dry_run:
            return current
        if resource.plural == "pods":
            spec_grace = current.get("spec", {}).get("terminationGracePeriodSeconds", 30)
            grace = spec_grace if grace_seconds is None else grace_seconds
            bound = bool(current.get("spec", {}).get("nodeName"))
            if bound and grace > 0:
                # Graceful: the node agent stops the containers and then deletes with grace 0.
                meta = current["metadata"]
                if meta.get("deletionTimestamp"):
                    return current
                meta["deletionTimestamp"] = now_rfc3339()
                meta["deletionGracePeriodSeconds"] = grace
                return await self.store.update(self.key(resource, namespace, name), current)
        if resource.plural == "namespaces":
            for plural, res in RESOURCES.items():
                if res.namespaced:
                    for item in (await self.store.list(plural, name)).items:
                        with contextlib.suppress(store_mod.NotFound):
                            await self.store.delete(self.key(res, name, item["metadata"]["name"]))
        try:
            deleted = await self.store.delete(self.key(resource, namespace, name))
        except store_mod.NotFound as err:
            raise errors.not_found(resource.plural, name, resource.group) from err
        if resource.plural == "pods":
            await self.refresh_quota_status(namespace)
        return deleted

    async def bind(self, namespace: str, name: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("the body must be a Binding")
        binding = codec.decode(types.Binding, body)
        target = binding.target.name
        if not target:
            raise errors.invalid("Binding", name, [api_field.required("target.name")])
        pods = RESOURCES["pods"]
        for _ in range(5):
            pod = await self.get(pods, namespace, name)
            if pod["spec"].get("nodeName"):
                raise errors.conflict(
                    "pods", name, f"pod {name} is already assigned to node {pod['spec']['nodeName']!r}"
                )
            pod["spec"]["nodeName"] = target
            conditions = [
                c for c in pod.setdefault("status", {}).get("conditions", []) if c.get("type") != "PodScheduled"
            ]
            conditions.append({"type": "PodScheduled", "status": "True", "lastTransitionTime": now_rfc3339()})
            pod["status"]["conditions"] = conditions
            try:
                await self.store.update(
                    self.key(pods, namespace, name), pod, expected_resource_version=pod["metadata"]["resourceVersion"]
                )
            except store_mod.Conflict:
                continue
            await self.record_event(
                namespace,
                pod,
                "Normal",
                "Scheduled",
                f"Successfully assigned {namespace}/{name} to {target}",
                "default-scheduler",
            )
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        raise errors.conflict("pods", name, errors.ROTTEN)

    async def record_event(
        self, namespace: str, obj: dict[str, Any], type_: str, reason: str, message: str, component: str
    ) -> None:
        meta = obj.get("metadata", {})
        now = now_rfc3339()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            # client-go's recorder names events "<object>.<unix nanoseconds in hex>"
            "metadata": {"name": f"{meta.get('name', 'object')}.{time.time_ns():x}", "namespace": namespace},
            "involvedObject": {
                "kind": obj.get("kind", ""),
                "name": meta.get("name", ""),
                "namespace": meta.get("namespace", ""),
                "uid": meta.get("uid", ""),
                "apiVersion": obj.get("apiVersion", "v1"),
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": component},
            "reportingComponent": component,
        }
        with contextlib.suppress(errors.ApiError, store_mod.StoreError):
            await self.create(RESOURCES["events"], namespace, event)


def _add_default_tolerations(pod: types.Pod) -> None:
    """DefaultTolerationSeconds: tolerate not-ready and unreachable NoExecute taints for 300 s."""
    for key in (NOT_READY_TAINT, UNREACHABLE_TAINT):
        if any(t.key == key and t.effect in ("NoExecute", "") for t in pod.spec.tolerations) or any(
            t.key == "" and t.operator == "Exists" for t in pod.spec.tolerations
        ):
            continue
        pod.spec.tolerations.append(
            types.Toleration(
                key=key, operator="Exists", effect="NoExecute", toleration_seconds=DEFAULT_TOLERATION_SECONDS
            )
        )


_POD_MUTABLE_SPEC = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")


def _pod_update_problems(old: dict[str, Any], new: dict[str, Any]) -> list[api_field.FieldError]:
    old_spec = {k: v for k, v in old.get("spec", {}).items() if k not in _POD_MUTABLE_SPEC}
    new_spec = {k: v for k, v in new.get("spec", {}).items() if k not in _POD_MUTABLE_SPEC}
    if old_spec.get("nodeName") and not new_spec.get("nodeName"):
        new_spec["nodeName"] = old_spec["nodeName"]
    if old_spec != new_spec:
        return [
            api_field.forbidden(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image`, "
                "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), "
                "`spec.terminationGracePeriodSeconds`",
            )
        ]
    return []


# --- HTTP ------------------------------------------------------------------------------------------------

SERVICE = web.AppKey("service", ApiService)
METRICS = web.AppKey("metrics", metrics_mod.ControlPlaneMetrics)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json")


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    started = time.perf_counter()
    response: web.StreamResponse | None = None
    try:
        response = await _dispatch(request, handler)
        return response
    finally:
        _observe(request, response, time.perf_counter() - started)


def _observe(request: web.Request, response: web.StreamResponse | None, seconds: float) -> None:
    metrics = request.app.get(METRICS)
    if metrics is None:
        return
    resource = request.match_info.get("resource") or ("pods" if "/pods/" in request.path else "other")
    verb = request.method.lower()
    if verb == "get" and request.query.get("watch") in ("1", "true", "True"):
        verb = "watch"
    code = str(response.status) if response is not None else "499"
    metrics.requests.labels(verb, resource, code).inc()
    if verb != "watch":
        metrics.request_duration.labels(verb, resource).observe(seconds)


async def _dispatch(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 404 and exc.text and exc.text.startswith("404"):
            return _json(
                errors.ApiError(404, "NotFound", "the server could not find the requested resource").status(), 404
            )
        if exc.status == 405:
            return _json(errors.method_not_allowed(request.method).status(), 405)
        if exc.status == 413:
            return _json(errors.too_large(request.app[SERVICE].config.max_body).status(), 413)
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        err = errors.to_api_error(exc)
        if err.code >= 500:
            log.exception("internal error serving %s %s", request.method, request.path)
        return _json(err.status(), err.code)


async def _read_body(request: web.Request, *, patch_request: bool = False) -> Any:
    # No Content-Type header at all: assume JSON, as the apiserver does for clients that omit it.
    ctype = request.content_type if "Content-Type" in request.headers else "application/json"
    raw = await request.read()
    if not raw:
        raise errors.bad_request("the request body is empty")
    if patch_request:
        if ctype not in patch.PATCH_TYPES:
            raise errors.unsupported_media_type(ctype)
    elif ctype not in (
        "application/json",
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "application/vnd.kubernetes.protobuf",
    ) or ctype.endswith("protobuf"):
        raise errors.unsupported_media_type(ctype)
    try:
        text = raw.decode("utf-8")
        if ctype in ("application/yaml", "application/x-yaml", "text/yaml", "application/apply-patch+yaml"):
            return yaml.safe_load(text)
        return json.loads(text)
    except RecursionError as err:
        raise errors.bad_request("the request body is nested too deeply") from err
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as err:
        raise errors.bad_request(f"the request body could not be decoded: {str(err).splitlines()[0]}") from err


def _resource(request: web.Request) -> Resource:
    return RESOURCES[request.match_info["resource"]]


def _dry_run(request: web.Request) -> bool:
    value = request.query.get("dryRun", "")
    if value not in ("", "All"):
        raise errors.bad_request(f'unsupported dryRun value "{value}": supported value is "All"')
    return value == "All"


def _int_param(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError as err:
        raise errors.bad_request(f"{name} must be an integer, got {value!r}") from err
    if number < 0:
        raise errors.bad_request(f"{name} must be non-negative, got {number}")
    return number


def _predicate(request: web.Request, resource: Resource) -> Callable[[dict[str, Any]], bool]:
    labels = selectors.label_predicate(request.query.get("labelSelector", ""))
    fields = selectors.parse_field_selector(resource.plural, request.query.get("fieldSelector", ""))
    return lambda obj: labels(obj) and fields(obj)


async def handle_list(request: web.Request) -> web.StreamResponse:
    resource = _resource(request)
    service = request.app[SERVICE]
    namespace = request.match_info.get("namespace")
    predicate = _predicate(request, resource)
    if request.query.get("watch") in ("1", "true", "True"):
        return await _watch(request, resource, namespace, predicate)
    result = await service.store.list(
        resource.plural,
        namespace,
        limit=_int_param(request, "limit") or None,
        continue_token=request.query.get("continue") or None,
        predicate=predicate,
    )
    meta: dict[str, Any] = {"resourceVersion": str(result.resource_version)}
    if result.continue_token:
        meta["continue"] = result.continue_token
        if result.remaining is not None:
            meta["remainingItemCount"] = result.remaining
    return _json(
        {"apiVersion": resource.api_version, "kind": resource.list_kind, "metadata": meta, "items": result.items}
    )


async def _watch(
    request: web.Request, resource: Resource, namespace: str | None, predicate: Callable[[dict[str, Any]], bool]
) -> web.StreamResponse:
    service = request.app[SERVICE]
    timeout = _int_param(request, "timeoutSeconds")
    bookmarks = request.query.get("allowWatchBookmarks") in ("1", "true", "True")
    rv_param = request.query.get("resourceVersion", "")
    response = web.StreamResponse(headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    await response.prepare(request)

    async def send(event_type: str, obj: dict[str, Any]) -> None:
        await response.write(json.dumps({"type": event_type, "object": obj}).encode() + b"\n")

    async def stream() -> None:
        since: int | None
        if rv_param in ("", "0"):
            # Kubernetes: "Start at most recent" with a synthetic ADDED for every existing object.
            listing = await service.store.list(resource.plural, namespace, predicate=predicate)
            for item in listing.items:
                await send("ADDED", item)
            since = listing.resource_version
        else:
            try:
                since = int(rv_param)
            except ValueError as err:
                raise errors.bad_request(f"invalid resourceVersion {rv_param!r}") from err
        last = since
        events: AsyncIterator[store_mod.WatchEvent] = service.store.watch(
            resource.plural, namespace, since=since, predicate=predicate
        )
        iterator = events.__aiter__()
        while True:
            try:
                event = await asyncio.wait_for(
                    iterator.__anext__(), service.config.watch_bookmark_interval if bookmarks else None
                )
            except TimeoutError:
                await send(
                    "BOOKMARK",
                    {
                        "kind": resource.kind,
                        "apiVersion": resource.api_version,
                        "metadata": {"resourceVersion": str(last)},
                    },
                )
                continue
            except StopAsyncIteration:
                return
            last = event.resource_version
            await send(event.type, event.object)

    try:
        await asyncio.wait_for(stream(), timeout)
    except TimeoutError:
        pass
    except store_mod.Gone as err:
        await send("ERROR", errors.gone(f"too old resource version: {rv_param} ({err})").status())
    except errors.ApiError as err:
        await send("ERROR", err.status())
    except (ConnectionResetError, asyncio.CancelledError):
        return response
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


async def handle_create(request: web.Request) -> web.Response:
    resource = _resource(request)
    body = await _read_body(request)
    obj = await request.app[SERVICE].create(
        resource, request.match_info.get("namespace", ""), body, dry_run=_dry_run(request)
    )
    return _json(obj, 201)


async def handle_get(request: web.Request) -> web.Response:
    resource = _resource(request)
    return _json(
        await request.app[SERVICE].get(resource, request.match_info.get("namespace", ""), request.match_info["name"])
    )


async def handle_update(request: web.Request) -> web.Response:
    resource = _resource(request)
    body = await _read_body(request)
    obj = await request.app[SERVICE].update(
        resource,
        request.match_info.get("namespace", ""),
        request.match_info["name"],
        body,
        subresource=request.match_info.get("subresource", ""),
    )
    return _json(obj)


async def handle_patch(request: web.Request) -> web.Response:
    resource = _resource(request)
    body = await _read_body(request, patch_request=True)
    obj = await request.app[SERVICE].patch(
        resource,
        request.match_info.get("namespace", ""),
        request.match_info["name"],
        body,
        request.content_type,
        subresource=request.match_info.get("subresource", ""),
    )
    return _json(obj)


async def handle_delete(request: web.Request) -> web.Response:
    resource = _resource(request)
    grace = _int_param(request, "gracePeriodSeconds")
    if grace is None and request.can_read_body:
        with contextlib.suppress(errors.ApiError):
            options = await _read_body(request)
            if isinstance(options, dict) and options.get("gracePeriodSeconds") is not None:
                grace = int(options["gracePeriodSeconds"])
    obj = await request.app[SERVICE].delete(
        resource,
        request.match_info.get("namespace", ""),
        request.match_info["name"],
        grace_seconds=grace,
        dry_run=_dry_run(request),
    )
    return _json(obj)


async def handle_binding(request: web.Request) -> web.Response:
    body = await _read_body(request)
    name = request.match_info.get("name") or (body.get("metadata", {}) if isinstance(body, dict) else {}).get(
        "name", ""
    )
    return _json(await request.app[SERVICE].bind(request.match_info["namespace"], name, body), 201)


async def handle_status_get(request: web.Request) -> web.Response:
    return await handle_get(request)


AGENT_TOKEN = web.AppKey("agent_token", str)
SCHEDULING_TRACES = web.AppKey("scheduling_traces", dict)  # "ns/name" -> last decision (set by the scheduler)


async def handle_scheduling(request: web.Request) -> web.Response:
    """The scheduler's last decision for this pod: every node's filter verdicts and scores (beyond Kubernetes)."""
    ns, name = request.match_info["namespace"], request.match_info["name"]
    await request.app[SERVICE].get(RESOURCES["pods"], ns, name)  # 404 for an unknown pod
    trace = request.app.get(SCHEDULING_TRACES, {}).get(f"{ns}/{name}")
    if trace is None:
        raise errors.ApiError(404, "NotFound", f'no scheduling decision recorded for pods "{name}"')
    return _json(trace)


async def _agent_base(request: web.Request, pod: dict[str, Any]) -> str:
    """The node agent serving this pod: its InternalIP and daemonEndpoints.kubeletEndpoint.Port."""
    node_name = pod.get("spec", {}).get("nodeName")
    name = pod["metadata"]["name"]
    if not node_name:
        raise errors.bad_request(f'pod "{name}" is not scheduled to a node yet')
    return await _node_agent_base(request, node_name)


async def handle_node_proxy(request: web.Request) -> web.StreamResponse:
    """``/api/v1/nodes/NAME/proxy/PATH``: GET proxied to the node agent (e.g. ``stats/summary`` for top)."""
    base = await _node_agent_base(request, request.match_info["name"])
    return await _proxy(request, "GET", f"{base}/{request.match_info['path']}", dict(request.query), None)


async def _node_agent_base(request: web.Request, node_name: str) -> str:
    node = await request.app[SERVICE].get(RESOURCES["nodes"], "", node_name)
    status = node.get("status", {})
    port = status.get("daemonEndpoints", {}).get("kubeletEndpoint", {}).get("Port")
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses", [])}
    address = addresses.get("InternalIP") or addresses.get("Hostname")
    if not port or not address:
        raise errors.ApiError(503, "ServiceUnavailable", f"node {node_name!r} has not reported an agent endpoint")
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}"


def _container_of(pod: dict[str, Any], requested: str | None) -> str:
    names = [c["name"] for c in pod.get("spec", {}).get("containers", [])]
    if requested:
        if requested not in names and requested not in [c["name"] for c in pod["spec"].get("initContainers", [])]:
            raise errors.bad_request(f"container {requested} is not valid for pod {pod['metadata']['name']}")
        return str(requested)
    if len(names) != 1:
        raise errors.bad_request(
            f"a container name must be specified for pod {pod['metadata']['name']}, choose one of: [{' '.join(names)}]"
        )
    return str(names[0])


async def handle_log(request: web.Request) -> web.StreamResponse:
    """``kubectl logs``: proxied to the node agent's /containerLogs (the kubelet's path), streamed."""
    ns, name = request.match_info["namespace"], request.match_info["name"]
    pod = await request.app[SERVICE].get(RESOURCES["pods"], ns, name)
    container = _container_of(pod, request.query.get("container"))
    base = await _agent_base(request, pod)
    params = {
        k: v
        for k, v in request.query.items()
        if k in ("follow", "previous", "tailLines", "timestamps", "sinceSeconds", "limitBytes")
    }
    return await _proxy(request, "GET", f"{base}/containerLogs/{ns}/{name}/{container}", params, None)


async def handle_exec(request: web.Request) -> web.StreamResponse:
    """Non-interactive exec: proxied to the agent's /exec; the reply carries exit code and output."""
    ns, name = request.match_info["namespace"], request.match_info["name"]
    pod = await request.app[SERVICE].get(RESOURCES["pods"], ns, name)
    container = _container_of(pod, request.query.get("container"))
    commands = request.query.getall("command", [])
    if not commands:
        raise errors.bad_request("you must specify at least one command for the container")
    base = await _agent_base(request, pod)
    params = [("command", c) for c in commands] + [(k, v) for k, v in request.query.items() if k == "timeoutSeconds"]
    return await _proxy(request, "POST", f"{base}/exec/{ns}/{name}/{container}", params, None)


async def _proxy(request: web.Request, method: str, url: str, params: Any, body: bytes | None) -> web.StreamResponse:
    import aiohttp  # client side only here

    headers = {}
    token = request.app.get(AGENT_TOKEN)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        timeout = aiohttp.ClientTimeout(total=None, connect=5)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, url, params=params, data=body, headers=headers) as upstream,
        ):
            response = web.StreamResponse(
                status=upstream.status, headers={"Content-Type": upstream.headers.get("Content-Type", "text/plain")}
            )
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
    except aiohttp.ClientError as err:
        raise errors.ApiError(502, "ServiceUnavailable", f"error talking to the node agent at {url}: {err}") from err


def _discovery_resources(group: str) -> list[dict[str, Any]]:
    out = []
    for res in RESOURCES.values():
        if res.group != group:
            continue
        out.append(
            {
                "name": res.plural,
                "singularName": res.kind.lower(),
                "namespaced": res.namespaced,
                "kind": res.kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                "shortNames": list(res.short_names),
            }
        )
        for sub in res.subresources:
            out.append(
                {
                    "name": f"{res.plural}/{sub}",
                    "singularName": "",
                    "namespaced": res.namespaced,
                    "kind": res.kind,
                    "verbs": ["get", "patch", "update"] if sub == "status" else ["create", "get"],
                }
            )
    return out


async def handle_api(request: web.Request) -> web.Response:
    return _json(
        {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": request.host}],
        }
    )


async def handle_api_v1(request: web.Request) -> web.Response:
    return _json({"kind": "APIResourceList", "groupVersion": "v1", "resources": _discovery_resources("")})


async def handle_apis(request: web.Request) -> web.Response:
    group = {
        "name": "scheduling.k8s.io",
        "versions": [{"groupVersion": "scheduling.k8s.io/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "scheduling.k8s.io/v1", "version": "v1"},
    }
    return _json({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]})


async def handle_scheduling_v1(request: web.Request) -> web.Response:
    return _json(
        {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": "scheduling.k8s.io/v1",
            "resources": _discovery_resources("scheduling.k8s.io"),
        }
    )


async def handle_version(request: web.Request) -> web.Response:
    return _json(
        {
            "major": "1",
            "minor": "30",
            "gitVersion": f"v1.30.0-minikube-py.{__version__}",
            "platform": "linux/amd64",
            "compiler": "cpython",
        }
    )


async def handle_health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def handle_metrics(request: web.Request) -> web.Response:
    import prometheus_client

    body = prometheus_client.generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/healthz", handle_health)
    r.add_get("/readyz", handle_health)
    r.add_get("/livez", handle_health)
    r.add_get("/version", handle_version)
    r.add_get("/metrics", handle_metrics)
    r.add_get("/api", handle_api)
    r.add_get("/api/v1", handle_api_v1)
    r.add_get("/apis", handle_apis)
    r.add_get("/apis/scheduling.k8s.io/v1", handle_scheduling_v1)
    for res in RESOURCES.values():
        prefix = f"/apis/{res.group}/{res.version}" if res.group else "/api/v1"
        plural = res.plural
        if res.namespaced:
            collection = f"{prefix}/namespaces/{{namespace}}/{{resource:{plural}}}"
            r.add_get(f"{prefix}/{{resource:{plural}}}", handle_list)  # across namespaces
        else:
            collection = f"{prefix}/{{resource:{plural}}}"
        item = f"{collection}/{{name}}"
        r.add_get(collection, handle_list)
        r.add_post(collection, handle_create)
        r.add_get(item, handle_get)
        r.add_put(item, handle_update)
        r.add_patch(item, handle_patch)
        r.add_delete(item, handle_delete)
        if "status" in res.subresources:
            status = f"{item}/{{subresource:status}}"
            r.add_get(status, handle_status_get)
            r.add_put(status, handle_update)
            r.add_patch(status, handle_patch)
    r.add_post("/api/v1/namespaces/{namespace}/pods/{name}/binding", handle_binding)
    r.add_get("/api/v1/namespaces/{namespace}/pods/{name}/log", handle_log)
    r.add_get("/api/v1/namespaces/{namespace}/pods/{name}/scheduling", handle_scheduling)
    r.add_get("/api/v1/nodes/{name}/proxy/{path:.*}", handle_node_proxy)
    r.add_post("/api/v1/namespaces/{namespace}/pods/{name}/exec", handle_exec)
    r.add_get("/api/v1/namespaces/{namespace}/pods/{name}/exec", handle_exec)
    r.add_post("/api/v1/namespaces/{namespace}/bindings", handle_binding)


def create_app(
    store: store_mod.Store, config: ApiConfig | None = None, *, agent_token: str = "", api_token: str = ""
) -> web.Application:
    """``api_token``: requests from beyond loopback must present it (see :mod:`auth`); empty = no check."""
    config = config or ApiConfig()
    middlewares: list[Middleware] = [auth.bearer_middleware(api_token)] if api_token else []
    app = web.Application(middlewares=[*middlewares, error_middleware], client_max_size=config.max_body)
    service = ApiService(store, config)
    app[SERVICE] = service
    app[AGENT_TOKEN] = agent_token
    app[METRICS] = metrics_mod.ControlPlaneMetrics()

    async def bootstrap(app: web.Application) -> AsyncIterator[None]:
        await service.bootstrap()
        yield

    app.cleanup_ctx.append(bootstrap)
    add_routes(app)
    return app
