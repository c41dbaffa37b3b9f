"""How kubectl prints: tables, ages, pod status, ``describe`` text, and ``-o json|yaml|name``.

Everything works on the JSON objects the API server returns (plain dicts), so what is printed is what
the server holds.  Sources followed (kubernetes/kubernetes): ``pkg/printers/internalversion/printers.go``
(``printPod``, ``printNode``, ``printEvent``, ``printResourceQuota``), ``k8s.io/apimachinery/pkg/util/duration``
(``HumanDuration``), ``staging/src/k8s.io/kubectl/pkg/describe/describe.go`` (``describePod``,
``describeNode``, ``DescribeEvents``) and Go's ``text/tabwriter`` (kubectl's tables: min width 6, padding 3;
describe: min width 0, padding 2).  Pure functions, no I/O; "now" is always passed in.
"""

from __future__ import annotations

import datetime
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import yaml

from minikube_py.api import codec, qos, quantity, types

NONE = "<none>"
UNKNOWN = "<unknown>"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
OOM_RECORDS_ANNOTATION = "minikube-py.io/oom-records"  # shown as the "OOM kills:" section
SANDBOX_ANNOTATION = "minikube-py.io/sandbox"  # shown as the "Sandbox:" section
EVICTION_ANNOTATION = "minikube-py.io/eviction"  # shown as the "Eviction:" section
NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_ROLE_LABEL = "kubernetes.io/role"
MAX_ANNOTATION_LEN = 140
# Annotations describe never shows inline: kubectl's own, and ours that get a section of their own.
SKIP_ANNOTATIONS = frozenset({LAST_APPLIED, OOM_RECORDS_ANNOTATION, SANDBOX_ANNOTATION})
GO_ZERO_TIME = "Mon, 01 Jan 0001 00:00:00 +0000"

TABLE_MIN_WIDTH = 6
TABLE_PADDING = 3
DESCRIBE_PADDING = 2

now: Callable[[], float] = time.time
"""The clock used for AGE columns; tests replace it."""


# ---- time ----------------------------------------------------------------------------------------------


def parse_time(value: object) -> float | None:
    """An RFC 3339 timestamp as epoch seconds (None when missing or unreadable)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def human_duration(seconds: float) -> str:
    """apimachinery ``duration.HumanDuration``: ``5s``, ``3m2s``, ``15m``, ``5h3m``, ``2d4h``, ``1y30d``."""
    secs = int(seconds)
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        rest = secs % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def since(timestamp: object, at: float) -> str:
    """``translateTimestampSince``: ``<unknown>`` for a missing timestamp."""
    parsed = parse_time(timestamp)
    if parsed is None:
        return UNKNOWN
    return human_duration(at - parsed)


def until(timestamp: object, at: float) -> str:
    parsed = parse_time(timestamp)
    if parsed is None:
        return UNKNOWN
    return human_duration(parsed - at)


def rfc1123z(value: object) -> str:
    """Go's ``time.RFC1123Z`` in local time (``Mon, 02 Jan 2006 15:04:05 -0700``), as describe prints times."""
    parsed = value if isinstance(value, (int, float)) else parse_time(value)
    if parsed is None:
        return GO_ZERO_TIME
    return datetime.datetime.fromtimestamp(parsed).astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")


# ---- tabwriter -----------------------------------------------------------------------------------------


def tabwrite(text: str, *, min_width: int = 0, padding: int = DESCRIBE_PADDING) -> str:
    """Go's ``text/tabwriter`` (left aligned, space padding): tab-terminated cells form column blocks.

    A column block is a run of consecutive lines that all have a tab-terminated cell in that column; its
    width is the widest cell plus ``padding`` (at least ``min_width``).  The last cell of a line is not
    part of any column and is never padded.
    """
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []

    def write_lines(widths: list[int], line0: int, line1: int) -> None:
        for i in range(line0, line1):
            cells = lines[i]
            parts: list[str] = []
            for j, cell in enumerate(cells):
                if j < len(widths) and j < len(cells) - 1:
                    parts.append(cell + " " * (widths[j] - len(cell)))
                else:
                    parts.append(cell)
            out.append("".join(parts))

    def format_block(widths: list[int], line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(widths, line0, this)
            line0 = this
            width = min_width
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            format_block(widths, line0, this)
            widths.pop()
            line0 = this
        write_lines(widths, line0, line1)

    format_block([], 0, len(lines))
    return "\n".join(out)


class Table:
    """kubectl's table printer: upper-case headers, 3 spaces between columns, widths remembered across
    calls (``tabwriter.RememberWidths``) so rows printed later by a watch stay aligned."""

    def __init__(self, headers: Sequence[str], *, upper: bool = True) -> None:
        self.headers = [h.upper() if upper else h for h in headers]
        self.widths = [0] * len(headers)

    def render(self, rows: Sequence[Sequence[str]], *, header: bool = True) -> str:
        lines = ([self.headers] if header else []) + [list(r) for r in rows]
        for line in lines:
            for i, cell in enumerate(line[:-1]):
                self.widths[i] = max(self.widths[i], len(cell) + TABLE_PADDING, TABLE_MIN_WIDTH)
        text = []
        for line in lines:
            cells = [cell.ljust(self.widths[i]) for i, cell in enumerate(line[:-1])]
            text.append("".join(cells) + (line[-1] if line else ""))
        return "".join(t + "\n" for t in text)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return Table(headers).render(rows)


# ---- generic helpers -----------------------------------------------------------------------------------


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("name", ""))


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("namespace", ""))


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def format_quantity(value: object) -> str:
    """A quantity as Kubernetes prints it (canonical form); unreadable text as written."""
    if value is None:
        return "0"
    try:
        return str(quantity.Quantity.parse(value if isinstance(value, (str, int, float)) else str(value)))
    except quantity.QuantityError:
        return str(value)


def _sorted_resource_names(names: Iterable[str]) -> list[str]:
    """kubectl's SortableResourceNames: plain alphabetical."""
    return sorted(names)


# ---- pods ----------------------------------------------------------------------------------------------


def _is_restartable_init(container: Mapping[str, Any] | None) -> bool:
    return bool(container) and (container or {}).get("restartPolicy") == "Always"


def _later(current: float | None, candidate: object) -> float | None:
    parsed = parse_time(candidate)
    if parsed is None:
        return current
    return parsed if current is None or parsed > current else current


def pod_summary(pod: Mapping[str, Any]) -> tuple[str, str, int, float | None]:
    """printPod's READY, STATUS, restart count and the time of the last restart."""
    spec, status = _dict(pod.get("spec")), _dict(pod.get("status"))
    containers = _list(spec.get("containers"))
    init_specs = {str(c.get("name")): c for c in _list(spec.get("initContainers")) if isinstance(c, dict)}
    total = len(containers) + sum(1 for c in init_specs.values() if _is_restartable_init(c))
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart: float | None = None
    last_sidecar_restart: float | None = None
    phase = str(status.get("phase") or "")
    reason = phase
    if status.get("reason"):
        reason = str(status["reason"])
    for condition in _list(status.get("conditions")):
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    initializing = False
    init_statuses = _list(status.get("initContainerStatuses"))
    for i, cs in enumerate(init_statuses):
        state = _dict(cs.get("state"))
        terminated, waiting = _dict(state.get("terminated")), _dict(state.get("waiting"))
        count = int(cs.get("restartCount") or 0)
        restarts += count
        last_terminated = _dict(_dict(cs.get("lastState")).get("terminated"))
        if last_terminated:
            last_restart = _later(last_restart, last_terminated.get("finishedAt"))
        container_spec = init_specs.get(str(cs.get("name")))
        if _is_restartable_init(container_spec):
            sidecar_restarts += count
            if last_terminated:
                last_sidecar_restart = _later(last_sidecar_restart, last_terminated.get("finishedAt"))
        if "terminated" in state and int(terminated.get("exitCode") or 0) == 0:
            continue
        if _is_restartable_init(container_spec) and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if "terminated" in state:
            if not terminated.get("reason"):
                if terminated.get("signal"):
                    reason = f"Init:Signal:{terminated['signal']}"
                else:
                    reason = f"Init:ExitCode:{int(terminated.get('exitCode') or 0)}"
            else:
                reason = f"Init:{terminated['reason']}"
        elif waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    initialized = any(
        c.get("type") == "Initialized" and c.get("status") == "True" for c in _list(status.get("conditions"))
    )
    if not initializing or initialized:
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for cs in reversed(_list(status.get("containerStatuses"))):
            state = _dict(cs.get("state"))
            c_term, c_wait = state.get("terminated"), state.get("waiting")
            restarts += int(cs.get("restartCount") or 0)
            previous = _dict(_dict(cs.get("lastState")).get("terminated"))
            if previous:
                last_restart = _later(last_restart, previous.get("finishedAt"))
            if isinstance(c_wait, dict) and c_wait.get("reason"):
                reason = str(c_wait["reason"])
                if reason == "CrashLoopBackOff" and previous.get("reason") not in (None, "", "Error", "Completed"):
                    # Beyond kubectl: say why it crashed, e.g. "CrashLoopBackOff (OOMKilled)".
                    reason = f"{reason} ({previous['reason']})"
            elif isinstance(c_term, dict) and c_term.get("reason"):
                reason = str(c_term["reason"])
            elif isinstance(c_term, dict):
                if c_term.get("signal"):
                    reason = f"Signal:{c_term['signal']}"
                else:
                    reason = f"ExitCode:{int(c_term.get('exitCode') or 0)}"
            elif cs.get("ready") and "running" in state:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in _list(status.get("conditions"))
            )
            reason = "Running" if pod_ready else "NotReady"

    if _meta(pod).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return f"{ready}/{total}", reason, restarts, last_restart


def pod_status(pod: Mapping[str, Any]) -> str:
    """The STATUS column of ``kubectl get pods``."""
    return pod_summary(pod)[1]


def pod_row(pod: Mapping[str, Any], at: float, *, wide: bool = False) -> list[str]:
    ready, reason, restarts, last_restart = pod_summary(pod)
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(at - last_restart)} ago)"
    row = [name_of(pod), ready, reason, restarts_text, since(_meta(pod).get("creationTimestamp"), at)]
    if wide:
        spec, status = _dict(pod.get("spec")), _dict(pod.get("status"))
        ips = _list(status.get("podIPs"))
        ip = str(ips[0].get("ip") or "") if ips and isinstance(ips[0], dict) else ""
        ip = ip or str(status.get("podIP") or "") or NONE
        gates = _list(spec.get("readinessGates"))
        gates_text = NONE
        if gates:
            conditions = {c.get("type"): c.get("status") for c in _list(status.get("conditions"))}
            true_gates = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
            gates_text = f"{true_gates}/{len(gates)}"
        row += [
            ip,
            str(spec.get("nodeName") or NONE),
            str(status.get("nominatedNodeName") or NONE),
            gates_text,
        ]
    return row


POD_COLUMNS = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
POD_WIDE_COLUMNS = [*POD_COLUMNS, "IP", "NODE", "NOMINATED NODE", "READINESS GATES"]


# ---- nodes ---------------------------------------------------------------------------------------------


def node_roles(node: Mapping[str, Any]) -> list[str]:
    roles: set[str] = set()
    for key, value in _dict(_meta(node).get("labels")).items():
        if key.startswith(NODE_ROLE_PREFIX):
            role = key[len(NODE_ROLE_PREFIX) :]
            if role:
                roles.add(role)
        elif key == NODE_ROLE_LABEL and value:
            roles.add(str(value))
    return sorted(roles)


def node_status(node: Mapping[str, Any]) -> str:
    """``Ready``/``NotReady`` from the Ready condition (``Unknown`` without one), ``,SchedulingDisabled``."""
    parts: list[str] = []
    for condition in _list(_dict(node.get("status")).get("conditions")):
        if condition.get("type") == "Ready":
            parts = ["Ready" if condition.get("status") == "True" else "NotReady"]
    if not parts:
        parts = ["Unknown"]
    if _dict(node.get("spec")).get("unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def _node_address(node: Mapping[str, Any], kind: str) -> str:
    for address in _list(_dict(node.get("status")).get("addresses")):
        if address.get("type") == kind:
            return str(address.get("address") or "")
    return ""


def node_row(node: Mapping[str, Any], at: float, *, wide: bool = False) -> list[str]:
    info = _dict(_dict(node.get("status")).get("nodeInfo"))
    row = [
        name_of(node),
        node_status(node),
        ",".join(node_roles(node)) or NONE,
        since(_meta(node).get("creationTimestamp"), at),
        str(info.get("kubeletVersion") or ""),
    ]
    if wide:
        row += [
            _node_address(node, "InternalIP") or NONE,
            _node_address(node, "ExternalIP") or NONE,
            str(info.get("osImage") or UNKNOWN),
            str(info.get("kernelVersion") or UNKNOWN),
            str(info.get("containerRuntimeVersion") or UNKNOWN),
        ]
    return row


NODE_COLUMNS = ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
NODE_WIDE_COLUMNS = [*NODE_COLUMNS, "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]


# ---- namespaces, quotas, events ------------------------------------------------------------------------


def namespace_row(ns: Mapping[str, Any], at: float, *, wide: bool = False) -> list[str]:
    del wide
    return [name_of(ns), str(_dict(ns.get("status")).get("phase") or ""), since(_meta(ns).get("creationTimestamp"), at)]


NAMESPACE_COLUMNS = ["NAME", "STATUS", "AGE"]


def quota_row(rq: Mapping[str, Any], at: float, *, wide: bool = False) -> list[str]:
    """printResourceQuota: ``used/hard`` per resource, ``limits.*`` in the LIMIT column."""
    del wide
    status = _dict(rq.get("status"))
    hard, used = _dict(status.get("hard")), _dict(status.get("used"))
    requests: list[str] = []
    limits: list[str] = []
    for resource in _sorted_resource_names(hard):
        text = f"{resource}: {format_quantity(used.get(resource, '0'))}/{format_quantity(hard[resource])}"
        pieces = resource.split(".")
        (limits if len(pieces) > 1 and pieces[0] == "limits" else requests).append(text)
    return [name_of(rq), since(_meta(rq).get("creationTimestamp"), at), ", ".join(requests), ", ".join(limits)]


QUOTA_COLUMNS = ["NAME", "AGE", "REQUEST", "LIMIT"]


def _event_first_seen(event: Mapping[str, Any], at: float) -> str:
    if event.get("firstTimestamp"):
        return since(event["firstTimestamp"], at)
    return since(event.get("eventTime"), at)


def event_row(event: Mapping[str, Any], at: float, *, wide: bool = False) -> list[str]:
    first = _event_first_seen(event, at)
    last = since(event["lastTimestamp"], at) if event.get("lastTimestamp") else first
    count = int(event.get("count") or 0) or 1
    series = _dict(event.get("series"))
    if series:
        last = since(series.get("lastObservedTime"), at)
        count = int(series.get("count") or count)
    involved = _dict(event.get("involvedObject"))
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    message = str(event.get("message") or "").strip()
    if not wide:
        return [last, str(event.get("type") or ""), str(event.get("reason") or ""), target, message]
    source = _dict(event.get("source"))
    source_text = str(source.get("component") or event.get("reportingComponent") or "")
    if source.get("host"):
        source_text += f", {source['host']}"
    return [
        last,
        str(event.get("type") or ""),
        str(event.get("reason") or ""),
        target,
        str(involved.get("fieldPath") or ""),
        source_text,
        message,
        first,
        str(count),
        name_of(event),
    ]


EVENT_COLUMNS = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
EVENT_WIDE_COLUMNS = [
    "LAST SEEN",
    "TYPE",
    "REASON",
    "OBJECT",
    "SUBOBJECT",
    "SOURCE",
    "MESSAGE",
    "FIRST SEEN",
    "COUNT",
    "NAME",
]


# ---- -o json|yaml|name ---------------------------------------------------------------------------------


def as_list(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": list(items), "kind": "List", "metadata": {"resourceVersion": ""}}


def dump_json(document: Any) -> str:
    """kubectl's JSON: 4-space indent, keys sorted (Go marshals maps sorted)."""
    return json.dumps(document, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def dump_yaml(document: Any) -> str:
    return str(yaml.safe_dump(document, sort_keys=True, default_flow_style=False, allow_unicode=True))


# ---- describe: shared pieces ---------------------------------------------------------------------------


class Lines:
    """kubectl's PrefixWriter: lines with tab-separated cells, indented by level (2 spaces per level)."""

    def __init__(self) -> None:
        self.blocks: list[list[str]] = [[]]

    def add(self, level: int, text: str) -> None:
        self.blocks[-1].append("  " * level + text)

    def flush(self) -> None:
        """End the current tabwriter block (kubectl calls ``w.Flush()`` before the events table)."""
        self.blocks.append([])

    def render(self) -> str:
        return "".join(tabwrite("\n".join(b) + "\n") for b in self.blocks if b)


def _labels_multiline(w: Lines, title: str, labels: Mapping[str, Any]) -> None:
    keys = sorted(labels)
    if not keys:
        w.add(0, f"{title}:\t{NONE}")
        return
    for i, key in enumerate(keys):
        w.add(0, f"{title + ':' if i == 0 else ''}\t{key}={labels[key]}")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _annotations_multiline(w: Lines, title: str, annotations: Mapping[str, Any]) -> None:
    keys = sorted(k for k in annotations if k not in SKIP_ANNOTATIONS)
    if not keys:
        w.add(0, f"{title}:\t{NONE}")
        return
    for i, key in enumerate(keys):
        head = f"{title}:" if i == 0 else ""
        value = str(annotations[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            w.add(0, f"{head}\t{key}:")
            for piece in value.split("\n"):
                w.add(0, f"\t  {_shorten(piece, MAX_ANNOTATION_LEN - 2)}")
        else:
            w.add(0, f"{head}\t{key}: {value}")


def _toleration_text(t: Mapping[str, Any]) -> str:
    text = str(t.get("key") or "")
    if t.get("value"):
        text += f"={t['value']}"
    if t.get("effect"):
        text += f":{t['effect']}"
    if t.get("operator") == "Exists" and not t.get("value"):
        text += " op=Exists" if (t.get("key") or t.get("effect")) else "op=Exists"
    if t.get("tolerationSeconds") is not None:
        text += f" for {int(t['tolerationSeconds'])}s"
    return text


def _multiline(w: Lines, title: str, values: Sequence[str]) -> None:
    if not values:
        w.add(0, f"{title}:\t{NONE}")
        return
    for i, value in enumerate(values):
        w.add(0, f"{title + ':' if i == 0 else ''}\t{value}")


def describe_events(w: Lines, events: Sequence[Mapping[str, Any]], at: float) -> None:
    """DescribeEvents: sorted by last timestamp; ``Age`` is ``first`` or ``last (xN over first)``."""
    if not events:
        w.add(0, f"Events:\t{NONE}")
        return
    w.flush()

    def last_seen(e: Mapping[str, Any]) -> float:
        return parse_time(e.get("lastTimestamp")) or parse_time(e.get("eventTime")) or 0.0

    w.add(0, "Events:")
    w.add(1, "Type\tReason\tAge\tFrom\tMessage")
    w.add(1, "----\t------\t----\t----\t-------")
    for e in sorted(events, key=last_seen):
        first = since(e.get("eventTime"), at) if e.get("eventTime") else since(e.get("firstTimestamp"), at)
        series = _dict(e.get("series"))
        count = int(e.get("count") or 0)
        if series:
            interval = f"{since(series.get('lastObservedTime'), at)} (x{int(series.get('count') or 0)} over {first})"
        elif count > 1:
            interval = f"{since(e.get('lastTimestamp'), at)} (x{count} over {first})"
        else:
            interval = first
        source = str(_dict(e.get("source")).get("component") or e.get("reportingComponent") or "")
        w.add(
            1,
            f"{e.get('type', '')}\t{e.get('reason', '')}\t{interval}\t{source}\t{str(e.get('message') or '').strip()}",
        )


# ---- describe pod --------------------------------------------------------------------------------------


def _ports_text(ports: Sequence[Mapping[str, Any]], key: str) -> str:
    return ",".join(f"{int(p.get(key) or 0)}/{p.get('protocol') or 'TCP'}" for p in ports)


def _probe_text(probe: Mapping[str, Any]) -> str:
    attrs = (
        f"delay={int(probe.get('initialDelaySeconds') or 0)}s timeout={int(probe.get('timeoutSeconds') or 0)}s "
        f"period={int(probe.get('periodSeconds') or 0)}s #success={int(probe.get('successThreshold') or 0)} "
        f"#failure={int(probe.get('failureThreshold') or 0)}"
    )
    if isinstance(probe.get("exec"), dict):
        return f"exec {json.dumps(_list(probe['exec'].get('command')))} {attrs}"
    if isinstance(probe.get("httpGet"), dict):
        h = probe["httpGet"]
        scheme = str(h.get("scheme") or "HTTP").lower()
        return f"http-get {scheme}://{h.get('host') or ''}:{h.get('port')}{h.get('path') or ''} {attrs}"
    if isinstance(probe.get("tcpSocket"), dict):
        t = probe["tcpSocket"]
        return f"tcp-socket {t.get('host') or ''}:{t.get('port')} {attrs}"
    if isinstance(probe.get("grpc"), dict):
        return f"grpc <pod>:{probe['grpc'].get('port')} {probe['grpc'].get('service') or ''} {attrs}"
    return f"unknown {attrs}"


def _describe_state(w: Lines, title: str, state: Mapping[str, Any]) -> None:
    if isinstance(state.get("running"), dict):
        w.add(2, f"{title}:\tRunning")
        w.add(3, f"Started:\t{rfc1123z(state['running'].get('startedAt'))}")
    elif isinstance(state.get("waiting"), dict):
        w.add(2, f"{title}:\tWaiting")
        if state["waiting"].get("reason"):
            w.add(3, f"Reason:\t{state['waiting']['reason']}")
    elif isinstance(state.get("terminated"), dict):
        t = state["terminated"]
        w.add(2, f"{title}:\tTerminated")
        if t.get("reason"):
            w.add(3, f"Reason:\t{t['reason']}")
        if t.get("message"):
            w.add(3, f"Message:\t{t['message']}")
        w.add(3, f"Exit Code:\t{int(t.get('exitCode') or 0)}")
        if int(t.get("signal") or 0) > 0:
            w.add(3, f"Signal:\t{int(t['signal'])}")
        w.add(3, f"Started:\t{rfc1123z(t.get('startedAt'))}")
        w.add(3, f"Finished:\t{rfc1123z(t.get('finishedAt'))}")
    else:
        w.add(2, f"{title}:\tWaiting")


def _env_lines(w: Lines, container: Mapping[str, Any]) -> None:
    env = _list(container.get("env"))
    if container.get("envFrom"):
        w.add(2, "Environment Variables from:")
        for source in _list(container.get("envFrom")):
            for kind, label in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                ref = _dict(source.get(kind))
                if ref:
                    optional = "true" if ref.get("optional") else "false"
                    w.add(3, f"{ref.get('name', '')}\t{label}\tOptional: {optional}")
    if not env:
        w.add(2, f"Environment:\t{NONE}")
        return
    w.add(2, "Environment:")
    for var in env:
        value_from = _dict(var.get("valueFrom"))
        if not value_from:
            for i, piece in enumerate(str(var.get("value") or "").split("\n")):
                w.add(3, f"{var.get('name', '')}:\t{piece}" if i == 0 else f"\t{piece}")
            continue
        if "fieldRef" in value_from:
            ref = _dict(value_from["fieldRef"])
            w.add(3, f"{var.get('name', '')}:\t ({ref.get('apiVersion', 'v1')}:{ref.get('fieldPath', '')})")
        elif "resourceFieldRef" in value_from:
            ref = _dict(value_from["resourceFieldRef"])
            w.add(3, f"{var.get('name', '')}:\t{ref.get('resource', '')} ({ref.get('containerName', '')})")
        elif "secretKeyRef" in value_from:
            ref = _dict(value_from["secretKeyRef"])
            optional = "true" if ref.get("optional") else "false"
            w.add(
                3,
                f"{var.get('name', '')}:\t<set to the key '{ref.get('key', '')}' in secret "
                f"'{ref.get('name', '')}'>\tOptional: {optional}",
            )
        elif "configMapKeyRef" in value_from:
            ref = _dict(value_from["configMapKeyRef"])
            optional = "true" if ref.get("optional") else "false"
            w.add(
                3,
                f"{var.get('name', '')}:\t<set to the key '{ref.get('key', '')}' of config map "
                f"'{ref.get('name', '')}'>\tOptional: {optional}",
            )
        else:
            w.add(3, f"{var.get('name', '')}:\t<unknown source>")


def _describe_containers(
    w: Lines, label: str, containers: Sequence[Mapping[str, Any]], statuses: Sequence[Mapping[str, Any]]
) -> None:
    by_name = {str(s.get("name")): s for s in statuses if isinstance(s, dict)}
    w.add(0, f"{label}:{'' if containers else ' ' + NONE}")
    for container in containers:
        status = by_name.get(str(container.get("name")))
        w.add(1, f"{container.get('name', '')}:")
        if status is not None:
            w.add(2, f"Container ID:\t{status.get('containerID', '')}")
        w.add(2, f"Image:\t{container.get('image', '')}")
        if status is not None:
            w.add(2, f"Image ID:\t{status.get('imageID', '')}")
        ports = [p for p in _list(container.get("ports")) if isinstance(p, dict)]
        port_text = _ports_text(ports, "containerPort")
        w.add(2, f"Ports:\t{port_text}" if "," in port_text else f"Port:\t{port_text or NONE}")
        host_text = _ports_text(ports, "hostPort")
        w.add(2, f"Host Ports:\t{host_text}" if "," in host_text else f"Host Port:\t{host_text or NONE}")
        for key, title in (("command", "Command"), ("args", "Args")):
            if container.get(key):
                w.add(2, f"{title}:")
                for arg in _list(container[key]):
                    for piece in str(arg).split("\n"):
                        w.add(3, piece)
        if status is not None:
            _describe_state(w, "State", _dict(status.get("state")))
            last = _dict(status.get("lastState"))
            if isinstance(last.get("terminated"), dict):
                _describe_state(w, "Last State", last)
            w.add(2, f"Ready:\t{'True' if status.get('ready') else 'False'}")
            w.add(2, f"Restart Count:\t{int(status.get('restartCount') or 0)}")
        resources = _dict(container.get("resources"))
        for key, title in (("limits", "Limits"), ("requests", "Requests")):
            values = _dict(resources.get(key))
            if values:
                w.add(2, f"{title}:")
                for name in _sorted_resource_names(values):
                    w.add(3, f"{name}:\t{format_quantity(values[name])}")
        for key, title in (("livenessProbe", "Liveness"), ("readinessProbe", "Readiness"), ("startupProbe", "Startup")):
            if isinstance(container.get(key), dict):
                w.add(2, f"{title}:\t{_probe_text(container[key])}")
        _env_lines(w, container)
        mounts = sorted(
            (m for m in _list(container.get("volumeMounts")) if isinstance(m, dict)),
            key=lambda m: str(m.get("mountPath", "")),
        )
        if not mounts:
            w.add(2, f"Mounts:\t{NONE}")
        else:
            w.add(2, "Mounts:")
            for m in mounts:
                flags = ["ro" if m.get("readOnly") else "rw"]
                if m.get("subPath"):
                    flags.append(f"path={json.dumps(m['subPath'])}")
                w.add(3, f"{m.get('mountPath', '')} from {m.get('name', '')} ({','.join(flags)})")


def _describe_volumes(w: Lines, volumes: Sequence[Mapping[str, Any]]) -> None:
    if not volumes:
        w.add(0, f"Volumes:\t{NONE}")
        return
    w.add(0, "Volumes:")
    for volume in volumes:
        w.add(1, f"{volume.get('name', '')}:")
        if isinstance(volume.get("emptyDir"), dict):
            empty = volume["emptyDir"]
            size = format_quantity(empty["sizeLimit"]) if empty.get("sizeLimit") else "<unset>"
            w.add(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)")
            w.add(2, f"Medium:\t{empty.get('medium', '')}")
            w.add(2, f"SizeLimit:\t{size}")
        elif isinstance(volume.get("hostPath"), dict):
            host = volume["hostPath"]
            w.add(2, "Type:\tHostPath (bare host directory volume)")
            w.add(2, f"Path:\t{host.get('path', '')}")
            w.add(2, f"HostPathType:\t{host.get('type') or NONE}")
        else:
            kinds = [k for k in volume if k != "name"]
            w.add(2, f"Type:\t{kinds[0] if kinds else '<unknown>'} (a volume source minikube_py does not interpret)")


def pod_qos(pod: Mapping[str, Any]) -> str:
    status_qos = _dict(pod.get("status")).get("qosClass")
    if status_qos:
        return str(status_qos)
    try:
        return str(qos.pod_qos_class(codec.decode(types.Pod, dict(pod))))
    except (codec.DecodeError, quantity.QuantityError, ValueError):
        return ""


def describe_pod(
    pod: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]] | None,
    at: float,
    *,
    scheduling: Mapping[str, Any] | None = None,
    probes: Mapping[str, Any] | None = None,
) -> str:
    """kubectl's describePod, then our Scheduling, OOM kills, Sandbox, Probe History and Eviction sections
    (before Events). ``probes``: the node agent's probe history of the pod, when it could be fetched."""
    meta, spec, status = _meta(pod), _dict(pod.get("spec")), _dict(pod.get("status"))
    w = Lines()
    w.add(0, f"Name:\t{meta.get('name', '')}")
    w.add(0, f"Namespace:\t{meta.get('namespace', '')}")
    if spec.get("priority") is not None:
        w.add(0, f"Priority:\t{int(spec['priority'])}")
    if spec.get("priorityClassName"):
        w.add(0, f"Priority Class Name:\t{spec['priorityClassName']}")
    if spec.get("runtimeClassName"):
        w.add(0, f"Runtime Class Name:\t{spec['runtimeClassName']}")
    if spec.get("serviceAccountName"):
        w.add(0, f"Service Account:\t{spec['serviceAccountName']}")
    if spec.get("nodeName"):
        w.add(0, f"Node:\t{spec['nodeName']}/{status.get('hostIP', '')}")
    else:
        w.add(0, f"Node:\t{NONE}")
    if status.get("startTime"):
        w.add(0, f"Start Time:\t{rfc1123z(status['startTime'])}")
    _labels_multiline(w, "Labels", _dict(meta.get("labels")))
    _annotations_multiline(w, "Annotations", _dict(meta.get("annotations")))
    phase = str(status.get("phase") or "")
    if meta.get("deletionTimestamp") and phase not in ("Failed", "Succeeded"):
        w.add(0, f"Status:\tTerminating (lasts {until(meta['deletionTimestamp'], at)})")
        w.add(0, f"Termination Grace Period:\t{int(meta.get('deletionGracePeriodSeconds') or 0)}s")
    else:
        w.add(0, f"Status:\t{phase}")
    if status.get("reason"):
        w.add(0, f"Reason:\t{status['reason']}")
    if status.get("message"):
        w.add(0, f"Message:\t{status['message']}")
    w.add(0, f"IP:\t{status.get('podIP', '')}")
    pod_ips = [p for p in _list(status.get("podIPs")) if isinstance(p, dict)]
    if not pod_ips:
        w.add(0, f"IPs:\t{NONE}")
    else:
        w.add(0, "IPs:")
        for ip in pod_ips:
            w.add(1, f"IP:\t{ip.get('ip', '')}")
    owners = [o for o in _list(meta.get("ownerReferences")) if isinstance(o, dict) and o.get("controller")]
    if owners:
        w.add(0, f"Controlled By:\t{owners[0].get('kind', '')}/{owners[0].get('name', '')}")
    if status.get("nominatedNodeName"):
        w.add(0, f"NominatedNodeName:\t{status['nominatedNodeName']}")
    init_containers = [c for c in _list(spec.get("initContainers")) if isinstance(c, dict)]
    if init_containers:
        _describe_containers(w, "Init Containers", init_containers, _list(status.get("initContainerStatuses")))
    _describe_containers(
        w,
        "Containers",
        [c for c in _list(spec.get("containers")) if isinstance(c, dict)],
        _list(status.get("containerStatuses")),
    )
    conditions = [c for c in _list(status.get("conditions")) if isinstance(c, dict)]
    if conditions:
        w.add(0, "Conditions:")
        w.add(1, "Type\tStatus")
        for c in conditions:
            w.add(1, f"{c.get('type', '')} \t{c.get('status', '')} ")
    _describe_volumes(w, [v for v in _list(spec.get("volumes")) if isinstance(v, dict)])
    w.add(0, f"QoS Class:\t{pod_qos(pod)}")
    _labels_multiline(w, "Node-Selectors", _dict(spec.get("nodeSelector")))
    tolerations = sorted(
        (t for t in _list(spec.get("tolerations")) if isinstance(t, dict)), key=lambda t: str(t.get("key", ""))
    )
    _multiline(w, "Tolerations", [_toleration_text(t) for t in tolerations])
    if scheduling is not None:
        describe_scheduling(w, scheduling, at)
    annotations = _dict(meta.get("annotations"))
    if OOM_RECORDS_ANNOTATION in annotations:
        describe_oom_kills(w, annotations[OOM_RECORDS_ANNOTATION])
    if SANDBOX_ANNOTATION in annotations:
        describe_sandbox(w, annotations[SANDBOX_ANNOTATION])
    if probes:
        describe_probe_history(w, probes, at)
    if EVICTION_ANNOTATION in annotations:
        decision = _json_value(annotations[EVICTION_ANNOTATION])
        w.flush()
        if isinstance(decision, dict):
            w.add(0, "Eviction:")
            describe_eviction_decision(w, decision, at, level=1)
        else:
            w.add(0, "Eviction:\t<unreadable annotation>")
    if events is not None:
        describe_events(w, events, at)
    return w.render()


# ---- describe pod: beyond kubectl ----------------------------------------------------------------------


def describe_scheduling(w: Lines, record: Mapping[str, Any], at: float) -> None:
    """The scheduler's last decision for the pod: verdict, then each node's filters and scores."""
    trace = _dict(record.get("trace"))
    w.flush()
    w.add(0, "Scheduling:")
    result = str(record.get("result") or "")
    when = f" ({since(record['time'], at)} ago)" if record.get("time") else ""
    w.add(1, f"Result:\t{result or '<unknown>'}{when}")
    w.add(1, f"Node:\t{record.get('node') or trace.get('selected') or NONE}")
    if trace.get("profile"):
        w.add(1, f"Profile:\t{trace['profile']}")
    w.add(
        1,
        f"Nodes:\t{int(trace.get('evaluatedNodes') or 0)} evaluated of {int(trace.get('numAllNodes') or 0)}, "
        f"{int(trace.get('feasibleNodes') or 0)} feasible",
    )
    message = record.get("message") or trace.get("message")
    if message:
        w.add(1, f"Message:\t{message}")
    if trace.get("scoringSkipped"):
        w.add(1, f"Scoring:\tskipped ({trace['scoringSkipped']})")
    for entry in _list(trace.get("preFilter")):
        if isinstance(entry, dict) and entry.get("code") not in (None, "Success", "Skip"):
            reasons = "; ".join(str(r) for r in _list(entry.get("reasons")))
            w.add(
                1, f"PreFilter:\t{entry.get('plugin', '')}: {entry.get('code', '')}{': ' + reasons if reasons else ''}"
            )
    for entry in _list(trace.get("postFilter")):
        if isinstance(entry, dict):
            nominated = entry.get("nominatedNode") or NONE
            reasons = "; ".join(str(r) for r in _list(entry.get("reasons")))
            w.add(
                1,
                f"PostFilter:\t{entry.get('plugin', '')}: {entry.get('code', '')}, nominated node {nominated}"
                + (f" ({reasons})" if reasons else ""),
            )
    nodes = [n for n in _list(trace.get("nodes")) if isinstance(n, dict)]
    if not nodes:
        return
    w.flush()
    selected = record.get("node") or trace.get("selected")
    w.add(1, "Node\tFilters\tScore\tScore Details")
    w.add(1, "----\t-------\t-----\t-------------")
    for node in nodes:
        name = str(node.get("name", ""))
        filters = [f for f in _list(node.get("filters")) if isinstance(f, dict)]
        failed = [f for f in filters if f.get("code") not in (None, "Success", "Skip")]
        if failed:
            f = failed[0]
            reasons = ", ".join(str(r) for r in _list(f.get("reasons")))
            verdict = f"rejected by {f.get('plugin', '')}" + (f": {reasons}" if reasons else f" ({f.get('code', '')})")
        else:
            verdict = f"passed {len(filters)}/{len(filters)}"
        scores = [s for s in _list(node.get("scores")) if isinstance(s, dict)]
        details = ", ".join(
            f"{s.get('plugin', '')} {int(s.get('normalized') or 0)}x{int(s.get('weight') or 0)}" for s in scores
        )
        total = str(int(node["total"])) if node.get("total") is not None else "-"
        marker = " (selected)" if name == selected else ""
        w.add(1, f"{name}{marker}\t{verdict}\t{total}\t{details or '-'}")


def format_bytes(value: float) -> str:
    """Binary units with one decimal (``62.5Mi``); plain bytes under 1Ki."""
    amount = float(value)
    for unit, power in (("Gi", 30), ("Mi", 20), ("Ki", 10)):
        if abs(amount) >= 1 << power:
            text = f"{amount / (1 << power):.1f}".removesuffix(".0")
            return f"{text}{unit}"
    return f"{int(amount)}B"


BLOCKS = " ▁▂▃▄▅▆▇█"
CHART_ROWS = 8
CHART_COLUMNS = 60


def memory_chart(
    curve: Sequence[Sequence[float]], limit: float | None, *, rows: int = CHART_ROWS, columns: int = CHART_COLUMNS
) -> list[str]:
    """A bar chart of ``[[seconds relative to the kill, bytes], ...]``: ``rows`` lines of block characters,
    up to ``columns`` wide (each column the peak of its time slice), with the limit marked by ``┄`` on
    the row it falls in and labelled on the left, and the time axis underneath."""
    points = sorted((float(p[0]), float(p[1])) for p in curve if isinstance(p, (list, tuple)) and len(p) >= 2)
    if not points:
        return []
    start, end = points[0][0], points[-1][0]
    width = min(columns, len(points))
    buckets: list[float | None] = [None] * width
    span = end - start
    for t, value in points:
        index = 0 if span <= 0 else min(width - 1, int((t - start) / span * width))
        current = buckets[index]
        buckets[index] = value if current is None else max(current, value)
    values: list[float] = []
    carry = points[0][1]
    for bucket in buckets:
        carry = carry if bucket is None else bucket
        values.append(carry)
    top = max([*values, float(limit or 0)])
    if top <= 0:
        top = 1.0
    limit_row = None
    if limit:
        # the row whose band holds the limit (row 0 is the top band)
        limit_row = min(rows - 1, max(0, rows - math.ceil(float(limit) / top * rows)))
    labels = [""] * rows
    labels[0] = format_bytes(top)
    if limit_row is not None:
        labels[limit_row] = f"limit {format_bytes(float(limit or 0))}"
    label_width = max(len(label) for label in labels)
    lines: list[str] = []
    for r in range(rows):
        band_low = (rows - 1 - r) / rows * top
        band = top / rows
        cells = []
        for value in values:
            fill = (value - band_low) / band
            if fill >= 1:
                cells.append(BLOCKS[-1])
            elif fill <= 0:
                cells.append("┄" if r == limit_row else " ")
            else:
                eighths = max(1, int(fill * 8))
                cells.append(BLOCKS[eighths])
        lines.append(f"{labels[r].rjust(label_width)} ┤{''.join(cells)}")
    axis = f"{'0'.rjust(label_width)} └{'─' * width}"
    lines.append(axis)
    left, right = f"{start:+.1f}s", f"{end:+.1f}s" if end else "0s (kill)"
    gap = max(1, width - len(left) - len(right))
    lines.append(" " * (label_width + 2) + left + " " * gap + right)
    return lines


def _json_value(raw: object) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return None
    return raw


def describe_oom_kills(w: Lines, raw: object) -> None:
    """The OOM kills the node agent recorded on the pod (annotation ``minikube-py.io/oom-records``)."""
    records = _json_value(raw)
    w.flush()
    if not isinstance(records, list):
        w.add(0, "OOM kills:\t<unreadable annotation>")
        return
    if not records:
        w.add(0, f"OOM kills:\t{NONE}")
        return
    w.add(0, "OOM kills:")
    for record in records:
        if not isinstance(record, dict):
            continue
        w.flush()
        w.add(1, f"Kill #{record.get('kill_number', '?')} of container {record.get('container', '?')}:")
        if record.get("detected_at") is not None:
            w.add(2, f"Detected:\t{rfc1123z(float(record['detected_at']))}")
        limit = record.get("limit_bytes")
        peak = record.get("peak_bytes")
        if limit:
            w.add(2, f"Limit:\t{format_bytes(float(limit))} ({int(limit)} bytes)")
        else:
            w.add(2, "Limit:\tnone")
        if peak is not None:
            w.add(2, f"Peak:\t{format_bytes(float(peak))} ({int(peak)} bytes)")
        victim = f"pid {record.get('victim_pid', '?')}"
        if record.get("victim_command"):
            victim += f" ({record['victim_command']})"
        w.add(2, f"Victim:\t{victim}")
        main = record.get("main_process_killed")
        if main is not None:
            w.add(
                2,
                "Main Process Killed:\t"
                + ("yes (the container exited)" if main else "no (a child was killed; the container kept running)"),
            )
        curve = [p for p in _list(record.get("memory_curve")) if isinstance(p, list)]
        if curve:
            w.flush()
            w.add(2, f"Memory (working set), {len(curve)} samples:")
            for line in memory_chart(curve, float(limit) if limit else None):
                w.add(3, line)
            w.flush()


def describe_sandbox(w: Lines, raw: object) -> None:
    """The pod sandbox the node agent built (annotation ``minikube-py.io/sandbox``)."""
    sandbox = _json_value(raw)
    w.flush()
    if not isinstance(sandbox, dict):
        w.add(0, "Sandbox:\t<unreadable annotation>")
        return
    w.add(0, "Sandbox:")
    namespaces = _dict(sandbox.get("namespaces"))
    if namespaces:
        w.add(1, "Namespaces:")
        for kind in sorted(namespaces):
            w.add(2, f"{kind}:\t{namespaces[kind]}")
    else:
        w.add(1, f"Namespaces:\t{NONE}")
    w.add(1, f"Cgroup:\t{sandbox.get('cgroup') or NONE}")
    cgroups = _dict(sandbox.get("cgroups"))
    if not cgroups:
        w.add(1, f"Cgroup Values:\t{NONE}")
        return
    w.add(1, "Cgroup Values:")
    for container in sorted(cgroups):
        values = _dict(cgroups[container])
        w.add(2, f"{container}:")
        for key in sorted(values):
            w.add(3, f"{key}:\t{values[key]}")


def describe_probe_history(w: Lines, probes: Mapping[str, Any], at: float) -> None:
    """The agent's last results per probe (its ``/probes/NS/POD``): when, result, latency, output."""
    w.flush()
    w.add(0, "Probe History:")
    for container in sorted(probes):
        for kind in ("startup", "liveness", "readiness"):
            probe = _dict(_dict(probes[container]).get(kind))
            if not probe:
                continue
            streak = _dict(probe.get("consecutive"))
            summary = f"{probe.get('state', '?')}"
            if streak:
                summary += f", {streak.get('count', 0)}× {streak.get('result', '?')} in a row"
            if probe.get("onHold"):
                summary += ", on hold until the startup probe succeeds"
            w.add(1, f"{container} {kind}:\t{summary}")
            for entry in [e for e in _list(probe.get("history")) if isinstance(e, dict)]:
                when = float(entry.get("time") or 0)
                output = str(entry.get("output") or "").replace("\n", " ").strip()
                w.add(
                    2,
                    f"{human_duration(max(0.0, at - when))} ago\t{entry.get('result', '?')}\t"
                    f"{float(entry.get('latencyMs') or 0):.1f}ms\t{_shorten(output, 80) if output else ''}",
                )
    w.flush()


# ---- eviction explanations (pod annotation; the node agent's /eviction for nodes) -----------------------


def _threshold_text(t: Mapping[str, Any]) -> str:
    kind = "hard" if t.get("hard") else f"soft, grace {human_duration(float(t.get('gracePeriodSeconds') or 0))}"
    quantity_text, written = t.get("thresholdQuantityText", "?"), t.get("threshold", "?")
    as_written = f"{written}, " if written != quantity_text else ""  # a percentage, resolved against capacity
    text = f"{t.get('signal', '?')}: available {t.get('availableText', '?')} < {quantity_text} ({as_written}{kind})"
    met_for = t.get("metForSeconds")
    if met_for is not None:
        text += f", met for {float(met_for):.1f}s"
    remaining = t.get("graceRemainingSeconds")
    if remaining:
        text += f", grace ends in {float(remaining):.1f}s"
    if t.get("minReclaim"):
        text += f", reclaiming to {format_bytes(float(t.get('reclaimTarget') or 0))} (minReclaim {t['minReclaim']})"
    return text


def describe_eviction_decision(w: Lines, decision: Mapping[str, Any], at: float, *, level: int) -> None:
    """One decision of the eviction manager: why (signal vs threshold, grace timer, or a local-storage limit),
    what (the pod, its grace) and the ranked candidate table it chose from."""
    if decision.get("time") is not None:
        decided = float(decision["time"])
        w.add(level, f"Decided:\t{rfc1123z(decided)} ({human_duration(max(0.0, at - decided))} ago)")
    local = _dict(decision.get("localStorage"))
    threshold = _dict(decision.get("threshold"))
    if local:
        w.add(
            level,
            f"Limit:\t{local.get('kind', '?')} {local.get('subject', '?')} used "
            f"{format_bytes(float(local.get('usedBytes') or 0))}, limit {local.get('limit', '?')}",
        )
    elif threshold:
        w.add(level, f"Signal:\t{_threshold_text(threshold)}")
    if decision.get("evicted"):
        w.add(level, f"{'Would Evict' if decision.get('dryRun') else 'Evicted'}:\t{decision['evicted']}")
    if decision.get("gracePeriodSeconds") is not None:
        w.add(level, f"Grace Period:\t{int(decision['gracePeriodSeconds'])}s")
    if decision.get("message"):
        w.add(level, f"Message:\t{decision['message']}")
    skipped = _list(decision.get("skippedCritical"))
    if skipped:
        w.add(level, f"Critical (never evicted):\t{', '.join(str(x) for x in skipped)}")
    candidates = [c for c in _list(decision.get("candidates")) if isinstance(c, dict)]
    if candidates:
        w.flush()
        resource = candidates[0].get("resource", "")
        w.add(level, f"Ranking ({resource}: usage above request first, then lower priority, then larger overage):")
        w.add(level + 1, "RANK\tPOD\tQOS\tPRIORITY\tUSAGE\tREQUEST\tOVER REQUEST")
        for c in candidates:
            usage = c.get("usageText") if c.get("statsFound", True) else "no stats"
            over = "yes" if c.get("exceedsRequest") else "no"
            marker = " (critical)" if c.get("critical") else ""
            w.add(
                level + 1,
                f"{c.get('rank', '?')}\t{c.get('pod', '?')}{marker}\t{c.get('qosClass', '')}\t"
                f"{c.get('priority', 0)}\t{usage}\t{c.get('requestText', '')}\t{over}",
            )
        omitted = int(decision.get("candidatesOmitted") or 0)
        if omitted:
            w.add(level + 1, f"... and {omitted} more")
        w.flush()


def describe_node_eviction(w: Lines, info: Mapping[str, Any], at: float) -> None:
    """The node agent's eviction state: configured thresholds, thresholds met now, its last decision and the
    dry-run plan (who would be evicted next, and why)."""
    w.flush()
    w.add(0, "Eviction:")
    thresholds = [str(t) for t in _list(info.get("thresholds"))]
    if not info.get("enabled"):
        w.add(1, "Thresholds:\tnone (only local-storage limits are enforced)")
    else:
        for i, text in enumerate(thresholds or [NONE]):
            w.add(1, f"{'Thresholds:' if i == 0 else ''}\t{text}")
    if info.get("housekeepingIntervalSeconds") is not None:
        w.add(1, f"Housekeeping:\tevery {human_duration(float(info['housekeepingIntervalSeconds']))}")
    watcher = _dict(info.get("memoryWatcher"))
    if watcher:
        how = watcher.get("notifier") or "none"
        text = (
            f"kernel notifier {how}, {watcher.get('wakes', 0)} wakes ({watcher.get('kernelEvents', 0)} from the kernel)"
        )
        if watcher.get("error"):
            text += f"; {watcher['error']}"
        w.add(1, f"Memory Watcher:\t{text}")
    plan = _dict(info.get("plan"))
    met = [t for t in _list(plan.get("thresholdsMet")) if isinstance(t, dict)]
    if met:
        w.add(1, "Thresholds Met:")
        for t in met:
            w.add(2, _threshold_text(t))
    else:
        w.add(1, f"Thresholds Met:\t{NONE}")
    last = _dict(info.get("last"))
    if last:
        w.add(1, "Last Eviction:")
        describe_eviction_decision(w, last, at, level=2)
    else:
        w.add(1, f"Last Eviction:\t{NONE}")
    if plan.get("error"):
        w.add(1, f"Next (dry run):\t{plan['error']}")
    elif plan.get("evicted"):
        w.add(1, "Next (dry run):")
        describe_eviction_decision(w, plan, at, level=2)
    else:
        w.add(1, "Next (dry run):\tnobody (no threshold past its grace period)")


# ---- describe node -------------------------------------------------------------------------------------


def _pod_requests_limits(pod: Mapping[str, Any]) -> tuple[dict[str, quantity.Quantity], dict[str, quantity.Quantity]]:
    """resourcehelper.PodRequestsAndLimits (init containers, sidecars and overhead included)."""
    try:
        typed = codec.decode(types.Pod, dict(pod))
        return qos.pod_effective_requests(typed), qos.pod_effective_limits(typed)
    except (codec.DecodeError, quantity.QuantityError, ValueError):
        requests: dict[str, quantity.Quantity] = {}
        limits: dict[str, quantity.Quantity] = {}
        for c in _list(_dict(pod.get("spec")).get("containers")):
            res = _dict(_dict(c).get("resources"))
            for target, key in ((requests, "requests"), (limits, "limits")):
                for name, value in _dict(res.get(key)).items():
                    try:
                        q = quantity.Quantity.parse(value)
                    except quantity.QuantityError:
                        continue
                    target[name] = target[name] + q if name in target else q
        return requests, limits


def _percent(part: quantity.Quantity | None, whole: quantity.Quantity | None, *, milli: bool) -> int:
    if part is None or whole is None:
        return 0
    denominator = whole.milli_value() if milli else whole.value()
    if denominator == 0:
        return 0
    numerator = part.milli_value() if milli else part.value()
    return int(numerator / denominator * 100)


def quantity_map(raw: object) -> dict[str, quantity.Quantity]:
    out: dict[str, quantity.Quantity] = {}
    for name, value in _dict(raw).items():
        try:
            out[name] = quantity.Quantity.parse(value)
        except quantity.QuantityError:
            continue
    return out


def describe_node(
    node: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]] | None,
    events: Sequence[Mapping[str, Any]] | None,
    at: float,
    *,
    eviction: Mapping[str, Any] | None = None,
) -> str:
    meta, spec, status = _meta(node), _dict(node.get("spec")), _dict(node.get("status"))
    w = Lines()
    w.add(0, f"Name:\t{meta.get('name', '')}")
    w.add(0, f"Roles:\t{','.join(node_roles(node)) or NONE}")
    _labels_multiline(w, "Labels", _dict(meta.get("labels")))
    _annotations_multiline(w, "Annotations", _dict(meta.get("annotations")))
    w.add(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}")
    taints = sorted(
        (t for t in _list(spec.get("taints")) if isinstance(t, dict)),
        key=lambda t: f"{t.get('effect', '')},{t.get('key', '')}",
    )
    _multiline(
        w,
        "Taints",
        [
            f"{t.get('key', '')}={t['value']}:{t.get('effect', '')}"
            if t.get("value")
            else f"{t.get('key', '')}:{t.get('effect', '')}"
            for t in taints
        ],
    )
    w.add(0, f"Unschedulable:\t{'true' if spec.get('unschedulable') else 'false'}")
    conditions = [c for c in _list(status.get("conditions")) if isinstance(c, dict)]
    if conditions:
        w.add(0, "Conditions:")
        w.add(1, "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage")
        w.add(1, "----\t------\t-----------------\t------------------\t------\t-------")
        for c in conditions:
            w.add(
                1,
                f"{c.get('type', '')} \t{c.get('status', '')} \t{rfc1123z(c.get('lastHeartbeatTime'))} \t"
                f"{rfc1123z(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t{c.get('message', '')}",
            )
    w.add(0, "Addresses:")
    for address in _list(status.get("addresses")):
        if isinstance(address, dict):
            w.add(1, f"{address.get('type', '')}:\t{address.get('address', '')}")
    capacity, allocatable = quantity_map(status.get("capacity")), quantity_map(status.get("allocatable"))
    for title, values in (("Capacity", capacity), ("Allocatable", allocatable)):
        if values:
            w.add(0, f"{title}:")
            for name in _sorted_resource_names(values):
                w.add(1, f"{name}:\t{values[name]}")
    info = _dict(status.get("nodeInfo"))
    w.add(0, "System Info:")
    for key, title in (
        ("machineID", "Machine ID"),
        ("systemUUID", "System UUID"),
        ("bootID", "Boot ID"),
        ("kernelVersion", "Kernel Version"),
        ("osImage", "OS Image"),
        ("operatingSystem", "Operating System"),
        ("architecture", "Architecture"),
        ("containerRuntimeVersion", "Container Runtime Version"),
        ("kubeletVersion", "Kubelet Version"),
        ("kubeProxyVersion", "Kube-Proxy Version"),
    ):
        w.add(1, f"{title}:\t{info.get(key, '')}")
    if spec.get("podCIDR"):
        w.add(0, f"PodCIDR:\t{spec['podCIDR']}")
    if spec.get("podCIDRs"):
        w.add(0, f"PodCIDRs:\t{','.join(str(c) for c in spec['podCIDRs'])}")
    if spec.get("providerID"):
        w.add(0, f"ProviderID:\t{spec['providerID']}")
    if pods is not None:
        _describe_node_resources(w, pods, allocatable or capacity, at)
    if eviction is not None:
        describe_node_eviction(w, eviction, at)
    if events is not None:
        describe_events(w, events, at)
    return w.render()


def _describe_node_resources(
    w: Lines, pods: Sequence[Mapping[str, Any]], allocatable: Mapping[str, quantity.Quantity], at: float
) -> None:
    w.add(0, f"Non-terminated Pods:\t({len(pods)} in total)")
    w.add(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge")
    w.add(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---")
    zero = quantity.Quantity.parse("0")
    cpu_alloc, mem_alloc = allocatable.get("cpu"), allocatable.get("memory")
    totals_req: dict[str, quantity.Quantity] = {}
    totals_lim: dict[str, quantity.Quantity] = {}
    for pod in pods:
        req, lim = _pod_requests_limits(pod)
        for total, values in ((totals_req, req), (totals_lim, lim)):
            for name, value in values.items():
                total[name] = total[name] + value if name in total else value
        cpu_r, cpu_l = req.get("cpu", zero), lim.get("cpu", zero)
        mem_r, mem_l = req.get("memory", zero), lim.get("memory", zero)
        w.add(
            1,
            f"{namespace_of(pod)}\t{name_of(pod)}\t\t{cpu_r} ({_percent(cpu_r, cpu_alloc, milli=True)}%)\t"
            f"{cpu_l} ({_percent(cpu_l, cpu_alloc, milli=True)}%)\t"
            f"{mem_r} ({_percent(mem_r, mem_alloc, milli=False)}%)\t"
            f"{mem_l} ({_percent(mem_l, mem_alloc, milli=False)}%)\t"
            f"{since(_meta(pod).get('creationTimestamp'), at)}",
        )
    w.add(0, "Allocated resources:")
    w.add(0, "  (Total limits may be over 100 percent, i.e., overcommitted.)")
    w.add(1, "Resource\tRequests\tLimits")
    w.add(1, "--------\t--------\t------")
    for name, milli in (("cpu", True), ("memory", False), ("ephemeral-storage", False)):
        r, lim_q = totals_req.get(name, zero), totals_lim.get(name, zero)
        alloc = allocatable.get(name)
        w.add(
            1,
            f"{name}\t{r} ({_percent(r, alloc, milli=milli)}%)\t{lim_q} ({_percent(lim_q, alloc, milli=milli)}%)",
        )
    extended = sorted(n for n in allocatable if n not in ("cpu", "memory", "ephemeral-storage", "pods") and "/" in n)
    for name in extended:
        r, lim_q = totals_req.get(name, zero), totals_lim.get(name, zero)
        w.add(1, f"{name}\t{r}\t{lim_q}")
