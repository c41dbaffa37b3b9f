"""kubectl's verbs over HTTP: apply, create, get, describe, delete, logs, exec, top.

Each verb is a ``configure_<verb>(parser)`` / ``run_<verb>(args, out, err) -> int`` pair listed in
``minikube_py.cli.main.COMMANDS``.  Server errors print as kubectl prints them (``Error from server
(NotFound): pods "x" not found``) and exit 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from minikube_py import manifests
from minikube_py.api import codec, defaults
from minikube_py.cli import output
from minikube_py.cli.client import Client, CliError, ServerUnreachable
from minikube_py.control.registry import RESOURCES

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
DEFAULT_NAMESPACE = "default"
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
OUTPUT_FORMATS = ("wide", "json", "yaml", "name")
DELETE_POLL_SECONDS = 0.2
FORCE_WARNING = (
    "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. "
    "The resource may continue to run on the cluster indefinitely."
)

Run = Callable[[argparse.Namespace, TextIO, TextIO], int]


class UsageError(Exception):
    """A command line that cannot work (exit 2)."""


# ---- resources -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    plural: str
    kind: str
    namespaced: bool
    group: str
    version: str
    short_names: tuple[str, ...]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """kubectl's resource name in messages: ``pod``, ``priorityclass.scheduling.k8s.io``."""
        singular = self.kind.lower()
        return f"{singular}.{self.group}" if self.group else singular

    def ref(self, name: str) -> str:
        return f"{self.qualified}/{name}"

    def collection(self, namespace: str | None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"
        if self.namespaced and namespace:
            return f"{prefix}/namespaces/{namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"

    def item(self, namespace: str | None, name: str) -> str:
        return f"{self.collection(namespace)}/{name}"


KINDS: dict[str, Kind] = {
    r.plural: Kind(r.plural, r.kind, r.namespaced, r.group, r.version, r.short_names) for r in RESOURCES.values()
}


def resolve_kind(text: str) -> Kind:
    """``pods``, ``pod``, ``po``, ``Pod``, ``pods.`` or ``priorityclasses.scheduling.k8s.io`` → its Kind."""
    wanted = text.strip().lower()
    base, _, group = wanted.partition(".")
    for kind in KINDS.values():
        if group and group != kind.group:
            continue
        if base in (kind.plural, kind.kind.lower(), *kind.short_names):
            return kind
    raise CliError(f'the server doesn\'t have a resource type "{text}"')


def kind_for_object(data: Mapping[str, Any]) -> Kind | None:
    for kind in KINDS.values():
        if data.get("kind") == kind.kind and data.get("apiVersion") in (kind.api_version, None, ""):
            return kind
    return None


# ---- shared options and plumbing -----------------------------------------------------------------------


class _IntermixedParser(argparse.ArgumentParser):
    """Options may follow or precede positionals (``get pods -n team web``), as kubectl allows.

    Python 3.11's ``parse_args`` binds a ``nargs='*'`` positional to an empty list as soon as an option
    interrupts the positionals; ``parse_known_intermixed_args`` does not.  The subcommand's parser is
    switched to this class so the top-level ``main`` keeps its ordinary ``parse_args`` call.
    """

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._intermixing:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _intermixed(parser: argparse.ArgumentParser) -> None:
    parser.__class__ = _IntermixedParser


def _add_server(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-s",
        "--server",
        metavar="URL",
        help="the API server (default: $MINIKUBE_PY_SERVER, the kubeconfig's, else http://127.0.0.1:6443)",
    )
    parser.add_argument("--token", help="bearer token (default: $MINIKUBE_PY_TOKEN, else the kubeconfig's)")
    parser.add_argument(
        "--kubeconfig", metavar="FILE", help="default: $KUBECONFIG, else the local control plane's when readable"
    )


def _client(args: argparse.Namespace) -> Client:
    return Client(args.server, token=args.token, kubeconfig=args.kubeconfig)


def _add_namespace(parser: argparse.ArgumentParser, *, all_namespaces: bool = False) -> None:
    parser.add_argument("-n", "--namespace", metavar="NS", help="the namespace (default: default)")
    if all_namespaces:
        parser.add_argument(
            "-A", "--all-namespaces", action="store_true", help="list across all namespaces (adds a NAMESPACE column)"
        )


def _namespace(args: argparse.Namespace) -> str:
    return str(getattr(args, "namespace", None) or DEFAULT_NAMESPACE)


def _handles_errors(run: Run) -> Run:
    """Print a ``CliError`` the way kubectl does (exit 1) and a ``UsageError`` as ``error: ...`` (exit 2)."""

    @functools.wraps(run)
    def wrapper(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        try:
            return run(args, out, err)
        except UsageError as usage:
            err.write(f"error: {usage}\n")
            return EXIT_USAGE
        except CliError as error:
            err.write(error.render() + "\n")
            return EXIT_FAILED
        except BrokenPipeError:
            return EXIT_FAILED

    return wrapper


def _none_found(kind: Kind, namespace: str | None, all_namespaces: bool) -> str:
    if kind.namespaced and not all_namespaces and namespace:
        return f"No resources found in {namespace} namespace.\n"
    return "No resources found\n"


# ---- apply / create ------------------------------------------------------------------------------------


def configure_apply(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="FILE",
        help="a manifest file, a directory of them, or - for standard input (repeatable)",
    )
    parser.add_argument("-R", "--recursive", action="store_true", help="process directories given with -f recursively")
    _add_namespace(parser)
    _add_server(parser)


def _normalized(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An object as the server would store it (decoded, defaulted, re-encoded), without server-owned parts."""
    data: dict[str, Any] = copy.deepcopy(dict(obj))
    with contextlib.suppress(codec.DecodeError, ValueError, TypeError):
        typed = codec.decode_object(copy.deepcopy(data), warnings=[])
        defaults.default_object(typed)
        data = codec.encode(typed)
    data.pop("status", None)
    meta = data.get("metadata")
    if isinstance(meta, dict):
        for key in ("resourceVersion", "managedFields", "generation"):
            meta.pop(key, None)
    return data


def merge3(live: Mapping[str, Any], last: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The object to PUT so the live one matches ``new``.

    Fields set in ``new``: objects merge key by key; other values replace the live value, except a value
    the user did not change since the last apply (``last``), which keeps its live form (server defaults,
    admission additions).  Fields in ``last`` but no longer in ``new`` are removed.
    """
    result: dict[str, Any] = copy.deepcopy(dict(live))
    for key, value in new.items():
        live_value = live.get(key)
        last_value = last.get(key)
        if isinstance(value, dict) and isinstance(live_value, dict):
            result[key] = merge3(live_value, last_value if isinstance(last_value, dict) else {}, value)
        elif key in last and last_value == value and key in live:
            continue
        else:
            result[key] = copy.deepcopy(value)
    for key in last:
        if key not in new:
            result.pop(key, None)
    return result


def _prepare(manifest: manifests.Manifest, namespace_flag: str | None) -> tuple[Kind, str, str, dict[str, Any]]:
    data = copy.deepcopy(manifest.data)
    kind = kind_for_object(data)
    raw_meta = data.get("metadata")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    data["metadata"] = meta
    name = str(meta.get("name") or "")
    if kind is None:
        raise CliError(
            f'resource mapping not found for name: "{name}" namespace: "{meta.get("namespace", "")}" from '
            f'"{manifest.source}": no matches for kind "{data.get("kind", "")}" in version '
            f'"{data.get("apiVersion", "")}"'
        )
    if not name:
        raise CliError(
            f'error when retrieving current configuration from "{manifest.source}": resource name may not be empty'
        )
    namespace = ""
    if kind.namespaced:
        declared = str(meta.get("namespace") or "")
        if declared and namespace_flag and declared != namespace_flag:
            raise CliError(
                f'the namespace from the provided object "{declared}" does not match the namespace '
                f"\"{namespace_flag}\". You must pass '--namespace={declared}' to perform this operation."
            )
        namespace = declared or namespace_flag or DEFAULT_NAMESPACE
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    return kind, namespace, name, data


def apply_one(client: Client, manifest: manifests.Manifest, namespace_flag: str | None, err: TextIO) -> str:
    """Create the object, or PUT it merged onto the live one; ``pod/x created|configured|unchanged``."""
    kind, namespace, name, data = _prepare(manifest, namespace_flag)
    config = json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"
    desired_config = copy.deepcopy(data)
    desired_config["metadata"].setdefault("annotations", {})[output.LAST_APPLIED] = config
    for _attempt in range(5):
        try:
            live = client.get(kind.item(namespace, name))
        except CliError as error:
            if error.code != 404:
                raise error.with_source("retrieving current configuration of", manifest.source) from None
            try:
                client.post(kind.collection(namespace), desired_config)
            except CliError as create_error:
                if create_error.reason == "AlreadyExists":
                    continue
                raise create_error.with_source("creating", manifest.source) from None
            return f"{kind.ref(name)} created"
        annotations = live.get("metadata", {}).get("annotations") or {}
        last: dict[str, Any] = {}
        if output.LAST_APPLIED in annotations:
            with contextlib.suppress(ValueError):
                parsed = json.loads(annotations[output.LAST_APPLIED])
                last = parsed if isinstance(parsed, dict) else {}
        else:
            err.write(
                f"Warning: resource {kind.plural}/{name} is missing the {output.LAST_APPLIED} annotation which is "
                "required by kubectl apply. kubectl apply should only be used on resources created declaratively "
                "by either kubectl create --save-config or kubectl apply. The missing annotation will be patched "
                "automatically.\n"
            )
        desired = merge3(live, last, desired_config)
        if _normalized(desired) == _normalized(live):
            return f"{kind.ref(name)} unchanged"
        try:
            client.put(kind.item(namespace, name), desired)
        except CliError as update_error:
            if update_error.reason == "Conflict" and "modified" in update_error.message:
                continue
            raise update_error.with_source("applying changes from", manifest.source) from None
        return f"{kind.ref(name)} configured"
    raise CliError(f"{kind.ref(name)}: the object kept changing while it was applied; try again")


@_handles_errors
def run_apply(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loaded = manifests.load(args.filename, recursive=args.recursive)
    if not loaded:
        raise UsageError("no objects passed to apply")
    client = _client(args)
    status = EXIT_OK
    for manifest in loaded:
        try:
            out.write(apply_one(client, manifest, args.namespace, err) + "\n")
        except CliError as error:
            err.write(error.render() + "\n")
            status = EXIT_FAILED
            if isinstance(error, ServerUnreachable):
                break  # every other object would fail the same way
    return status


def configure_create(parser: argparse.ArgumentParser) -> None:
    _intermixed(parser)
    parser.add_argument("what", nargs="?", metavar="namespace", help="what to create (namespace)")
    parser.add_argument("name", nargs="?", help="the name of the object")
    parser.add_argument(
        "-f", "--filename", action="append", metavar="FILE", help="create every object of these manifests"
    )
    parser.add_argument("-R", "--recursive", action="store_true", help="process directories given with -f recursively")
    _add_namespace(parser)
    _add_server(parser)


@_handles_errors
def run_create(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    client = _client(args)
    if args.filename:
        if args.what:
            raise UsageError("give either -f FILE or a subcommand (namespace NAME), not both")
        status = EXIT_OK
        for manifest in manifests.load(args.filename, recursive=args.recursive):
            try:
                kind, namespace, name, data = _prepare(manifest, args.namespace)
                try:
                    client.post(kind.collection(namespace), data)
                except CliError as error:
                    raise error.with_source("creating", manifest.source) from None
                out.write(f"{kind.ref(name)} created\n")
            except CliError as error:
                err.write(error.render() + "\n")
                status = EXIT_FAILED
        return status
    if args.what is None:
        raise UsageError("you must specify a subcommand (namespace NAME) or -f FILE")
    if resolve_kind(args.what).plural != "namespaces":
        raise UsageError(f"unknown subcommand {args.what!r}: only `create namespace NAME` is supported")
    if not args.name:
        raise UsageError("exactly one NAME is required, got 0")
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": args.name}}
    client.post(KINDS["namespaces"].collection(None), body)
    out.write(f"namespace/{args.name} created\n")
    return EXIT_OK


# ---- get -----------------------------------------------------------------------------------------------

RowFn = Callable[[Mapping[str, Any], float], list[str]]


@dataclass(frozen=True)
class Printer:
    columns: Sequence[str]
    wide_columns: Sequence[str]
    row: Callable[..., list[str]]


def _priority_class_row(pc: Mapping[str, Any], at: float, *, wide: bool = False) -> list[str]:
    del wide
    return [
        output.name_of(pc),
        str(int(pc.get("value") or 0)),
        "true" if pc.get("globalDefault") else "false",
        output.since(pc.get("metadata", {}).get("creationTimestamp"), at),
        str(pc.get("preemptionPolicy") or "PreemptLowerPriority"),
    ]


PRINTERS: dict[str, Printer] = {
    "pods": Printer(output.POD_COLUMNS, output.POD_WIDE_COLUMNS, output.pod_row),
    "nodes": Printer(output.NODE_COLUMNS, output.NODE_WIDE_COLUMNS, output.node_row),
    "namespaces": Printer(output.NAMESPACE_COLUMNS, output.NAMESPACE_COLUMNS, output.namespace_row),
    "resourcequotas": Printer(output.QUOTA_COLUMNS, output.QUOTA_COLUMNS, output.quota_row),
    "events": Printer(output.EVENT_COLUMNS, output.EVENT_WIDE_COLUMNS, output.event_row),
    "priorityclasses": Printer(
        ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"],
        ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"],
        _priority_class_row,
    ),
}


def configure_get(parser: argparse.ArgumentParser) -> None:
    _intermixed(parser)
    parser.add_argument("resource", help="pods|po, nodes|no, namespaces|ns, resourcequotas|quota, events|ev")
    parser.add_argument("names", nargs="*", default=[], metavar="NAME", help="only these objects")
    _add_namespace(parser, all_namespaces=True)
    parser.add_argument("-o", "--output", choices=OUTPUT_FORMATS, help="wide, json, yaml or name")
    parser.add_argument("-l", "--selector", metavar="SELECTOR", help="label selector (app=web,tier!=db)")
    parser.add_argument("--field-selector", metavar="SELECTOR", help="field selector (status.phase=Running)")
    parser.add_argument("-w", "--watch", action="store_true", help="after listing, print changes as they happen")
    parser.add_argument("--watch-only", action="store_true", help="print changes only, without the list first")
    parser.add_argument(
        "--output-watch-events", action="store_true", help="with --watch: add an EVENT column (ADDED, MODIFIED...)"
    )
    parser.add_argument("--show-labels", action="store_true", help="add a LABELS column")
    parser.add_argument("--sort-by", metavar="PATH", help="sort by a field path such as .metadata.creationTimestamp")
    parser.add_argument("--no-headers", action="store_true", help="omit the header row")
    parser.add_argument("--watch-max-events", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--watch-timeout", type=int, default=0, help=argparse.SUPPRESS)
    _add_server(parser)


def _field(obj: Any, path: str) -> Any:
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    value = obj
    for part in [p for p in text.split(".") if p]:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


class _GetPrinter:
    """Prints objects in the chosen format; tables remember their column widths for watch rows."""

    def __init__(self, kind: Kind, args: argparse.Namespace, out: TextIO) -> None:
        self.kind = kind
        self.args = args
        self.out = out
        self.format = args.output or ""
        printer = PRINTERS.get(kind.plural)
        self.printer = printer
        wide = self.format == "wide"
        columns = list((printer.wide_columns if wide else printer.columns) if printer else ["NAME", "AGE"])
        self.with_namespace = bool(args.all_namespaces) and kind.namespaced
        if self.with_namespace:
            columns.insert(0, "NAMESPACE")
        if args.output_watch_events and (args.watch or args.watch_only):
            columns.insert(0, "EVENT")
        if args.show_labels:
            columns.append("LABELS")
        self.table = output.Table(columns)
        self.header_done = bool(args.no_headers)
        self.documents = 0

    def _row(self, obj: Mapping[str, Any], at: float, event: str = "") -> list[str]:
        if self.printer is not None:
            row = self.printer.row(obj, at, wide=self.format == "wide")
        else:
            row = [output.name_of(obj), output.since(obj.get("metadata", {}).get("creationTimestamp"), at)]
        if self.with_namespace:
            row.insert(0, output.namespace_of(obj))
        if self.args.output_watch_events and (self.args.watch or self.args.watch_only):
            row.insert(0, event)
        if self.args.show_labels:
            labels = obj.get("metadata", {}).get("labels") or {}
            row.append(",".join(f"{k}={v}" for k, v in sorted(labels.items())) or output.NONE)
        return row

    def print(self, objects: Sequence[Mapping[str, Any]], *, single: bool = False, event: str = "") -> None:
        at = output.now()
        if self.format in ("json", "yaml"):
            document: Any = objects[0] if single and len(objects) == 1 else output.as_list(objects)
            if event:
                document = {"type": event, "object": objects[0]} if self.args.output_watch_events else objects[0]
            if self.format == "json":
                self.out.write(output.dump_json(document))
            else:
                if self.documents:
                    self.out.write("---\n")
                self.out.write(output.dump_yaml(document))
            self.documents += 1
        elif self.format == "name":
            for obj in objects:
                self.out.write(f"{self.kind.ref(output.name_of(obj))}\n")
        else:
            if not objects:
                return
            rows = [self._row(obj, at, event) for obj in objects]
            self.out.write(self.table.render(rows, header=not self.header_done))
            self.header_done = True
        self.out.flush()


@_handles_errors
def run_get(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    kind = resolve_kind(args.resource)
    if args.all_namespaces and args.names:
        raise UsageError("a resource cannot be retrieved by name across all namespaces")
    if args.names and args.selector:
        raise UsageError("name cannot be provided when a selector is specified")
    if args.watch_only:
        args.watch = True
    if args.watch and len(args.names) > 1:
        raise UsageError("you may only specify a single resource name to watch")
    client = _client(args)
    namespace = None if args.all_namespaces else _namespace(args)
    printer = _GetPrinter(kind, args, out)
    status = EXIT_OK
    query: dict[str, str] = {}
    if args.selector:
        query["labelSelector"] = args.selector
    if args.field_selector:
        query["fieldSelector"] = args.field_selector
    resource_version = ""
    if args.names and not args.watch:
        objects: list[dict[str, Any]] = []
        for name in args.names:
            try:
                objects.append(client.get(kind.item(namespace, name)))
            except CliError as error:
                err.write(error.render() + "\n")
                status = EXIT_FAILED
        if objects:
            printer.print(objects, single=len(args.names) == 1)
        return status
    if args.names:
        selector = f"metadata.name={args.names[0]}"
        query["fieldSelector"] = f"{query['fieldSelector']},{selector}" if "fieldSelector" in query else selector
    listing = client.get(kind.collection(namespace), query)
    items: list[dict[str, Any]] = list(listing.get("items") or [])
    resource_version = str((listing.get("metadata") or {}).get("resourceVersion") or "")
    if args.sort_by:
        items.sort(key=lambda obj: _sort_key(_field(obj, args.sort_by)))
    if not args.watch_only:
        if args.names and not items:
            raise CliError(
                f'{kind.plural}{"." + kind.group if kind.group else ""} "{args.names[0]}" not found',
                404,
                reason="NotFound",
                from_server=True,
            )
        if items or printer.format in ("json", "yaml"):
            if not args.watch:
                printer.print(items)
            elif printer.format in ("json", "yaml"):
                for item in items:
                    printer.print([item], event="ADDED")
            else:
                printer.print(items, event="ADDED")
        elif not args.watch:
            err.write(_none_found(kind, namespace, bool(args.all_namespaces)))
    if args.watch:
        return _watch(client, kind, namespace, query, resource_version, printer, args)
    return status


def _watch(
    client: Client,
    kind: Kind,
    namespace: str | None,
    query: Mapping[str, str],
    resource_version: str,
    printer: _GetPrinter,
    args: argparse.Namespace,
) -> int:
    watch_query: dict[str, str] = {**query, "watch": "true", "resourceVersion": resource_version}
    if args.watch_timeout:
        watch_query["timeoutSeconds"] = str(args.watch_timeout)
    seen = 0
    try:
        events = client.stream_json(kind.collection(namespace), watch_query)
        with contextlib.closing(events):
            for event in events:
                event_type = str(event.get("type") or "")
                obj = event.get("object")
                if event_type == "BOOKMARK" or not isinstance(obj, dict):
                    continue
                if event_type == "ERROR":
                    raise CliError(
                        str(obj.get("message") or "the watch failed"),
                        int(obj.get("code") or 0),
                        reason=str(obj.get("reason") or ""),
                        from_server=True,
                    )
                printer.print([obj], event=event_type)
                seen += 1
                if args.watch_max_events and seen >= args.watch_max_events:
                    break
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


# ---- describe ------------------------------------------------------------------------------------------


def configure_describe(parser: argparse.ArgumentParser) -> None:
    _intermixed(parser)
    parser.add_argument("resource", help="pod|po or node|no")
    parser.add_argument("names", nargs="*", default=[], metavar="NAME", help="the objects (default: all of them)")
    _add_namespace(parser, all_namespaces=True)
    parser.add_argument("-l", "--selector", metavar="SELECTOR", help="label selector")
    _add_server(parser)


def _events_for(client: Client, obj: Mapping[str, Any], kind_name: str, namespace: str | None) -> list[dict[str, Any]]:
    """The events about one object, as kubectl's ``Events(ns).Search`` finds them (name, namespace, kind, uid)."""
    meta = obj.get("metadata") or {}
    name, uid = str(meta.get("name", "")), str(meta.get("uid", ""))
    selector = f"involvedObject.name={name}"
    if namespace:
        selector += f",involvedObject.namespace={namespace}"
    try:
        listing = client.get(KINDS["events"].collection(namespace), {"fieldSelector": selector})
    except CliError as error:
        if error.code in (403, 404):
            return []
        raise
    found = []
    for event in listing.get("items") or []:
        involved = event.get("involvedObject") or {}
        if involved.get("kind") not in (None, "", kind_name):
            continue
        if uid and involved.get("uid") not in (None, "", uid):
            continue
        found.append(event)
    return found


def _scheduling(client: Client, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        record = client.get(f"/api/v1/namespaces/{namespace}/pods/{name}/scheduling")
    except CliError:
        return None  # 404: no decision recorded (or an older server); describe goes on without it
    return record if isinstance(record, dict) else None


def _probe_history(client: Client, pod: dict[str, Any]) -> dict[str, Any] | None:
    """The pod's probe history from its node agent (through the node proxy); None when it has none or the
    agent can't be reached."""
    spec = pod.get("spec") or {}
    probed = any(
        c.get(k) for c in spec.get("containers") or [] for k in ("livenessProbe", "readinessProbe", "startupProbe")
    )
    if not probed or not spec.get("nodeName"):
        return None
    path = f"{output.namespace_of(pod)}/{output.name_of(pod)}"
    try:
        history = client.get(f"/api/v1/nodes/{spec['nodeName']}/proxy/probes/{path}")
    except CliError:
        return None
    return history if isinstance(history, dict) else None


def _node_eviction(client: Client, node: str) -> dict[str, Any] | None:
    """The node agent's eviction state through the API server's node proxy; None when unreachable."""
    try:
        info = client.get(f"/api/v1/nodes/{node}/proxy/eviction")
    except CliError:
        return None
    return info if isinstance(info, dict) else None


@_handles_errors
def run_describe(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    kind = resolve_kind(args.resource)
    if kind.plural not in ("pods", "nodes"):
        raise UsageError(f"describe supports pods and nodes, not {kind.plural}")
    client = _client(args)
    namespace = None if args.all_namespaces else _namespace(args)
    objects: list[dict[str, Any]] = []
    status = EXIT_OK
    if args.names:
        for name in args.names:
            try:
                objects.append(client.get(kind.item(namespace, name)))
            except CliError as error:
                err.write(error.render() + "\n")
                status = EXIT_FAILED
    else:
        query = {"labelSelector": args.selector} if args.selector else None
        objects = list(client.get(kind.collection(namespace), query).get("items") or [])
        if not objects:
            err.write(_none_found(kind, namespace, bool(args.all_namespaces)))
    texts = []
    for obj in objects:
        at = output.now()
        if kind.plural == "pods":
            ns = output.namespace_of(obj)
            events = _events_for(client, obj, "Pod", ns)
            trace = _scheduling(client, ns, output.name_of(obj))
            probes = _probe_history(client, obj)
            texts.append(output.describe_pod(obj, events, at, scheduling=trace, probes=probes))
        else:
            name = output.name_of(obj)
            selector = f"spec.nodeName={name},status.phase!=Succeeded,status.phase!=Failed"
            pods = list(client.get(KINDS["pods"].collection(None), {"fieldSelector": selector}).get("items") or [])
            events = _events_for(client, obj, "Node", None)
            eviction = _node_eviction(client, name)
            texts.append(output.describe_node(obj, pods, events, at, eviction=eviction))
    out.write("\n\n".join(texts))
    out.flush()
    return status


# ---- delete --------------------------------------------------------------------------------------------


def configure_delete(parser: argparse.ArgumentParser) -> None:
    _intermixed(parser)
    parser.add_argument("resource", help="pod|po, namespace|ns, node|no, resourcequota|quota")
    parser.add_argument("names", nargs="*", default=[], metavar="NAME", help="the objects to delete")
    _add_namespace(parser)
    parser.add_argument("-l", "--selector", metavar="SELECTOR", help="delete the objects matching this label selector")
    parser.add_argument("--all", action="store_true", help="delete every object of the type in the namespace")
    parser.add_argument(
        "--grace-period",
        type=int,
        default=-1,
        metavar="SECONDS",
        help="seconds the pod gets to stop (-1: the pod's own; 0 needs --force)",
    )
    parser.add_argument("--now", action="store_true", help="same as --grace-period=1")
    parser.add_argument("--force", action="store_true", help="with --grace-period=0: delete at once")
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait until the object is gone (default: true, as kubectl)",
    )
    parser.add_argument(
        "--timeout",
        type=_duration,
        default=0.0,
        metavar="DURATION",
        help="give up waiting after this long: 30s, 2m, or seconds (0: no limit)",
    )
    _add_server(parser)


def _wait_deleted(client: Client, kind: Kind, namespace: str | None, name: str, uid: str, deadline: float) -> None:
    while True:
        try:
            obj = client.get(kind.item(namespace, name))
        except CliError as error:
            if error.code == 404:
                return
            raise
        if uid and (obj.get("metadata") or {}).get("uid") != uid:
            return  # a new object took the name: ours is gone
        if deadline and time.monotonic() >= deadline:
            raise CliError(f"timed out waiting for the condition on {kind.plural}/{name}")
        time.sleep(DELETE_POLL_SECONDS)


@_handles_errors
def run_delete(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    kind = resolve_kind(args.resource)
    if args.names and (args.selector or args.all):
        raise UsageError("name cannot be provided when a selector or --all is specified")
    if not args.names and not args.selector and not args.all:
        raise UsageError(
            f'resource(s) were provided, but no name was specified: give NAME, -l SELECTOR or --all for "{kind.plural}"'
        )
    grace = args.grace_period
    if args.now:
        if grace >= 0:
            raise UsageError("--now and --grace-period cannot be specified together")
        grace = 1
    if grace == 0 and not args.force:
        grace = 1  # kubectl converts --grace-period=0 to 1 unless --force is given
    if args.force and grace < 0:
        grace = 0
    if args.force and grace == 0:
        err.write(FORCE_WARNING + "\n")
    client = _client(args)
    namespace = _namespace(args) if kind.namespaced else None
    names = list(args.names)
    if not names:
        query = {"labelSelector": args.selector} if args.selector else None
        names = [output.name_of(o) for o in client.get(kind.collection(namespace), query).get("items") or []]
        if not names:
            err.write(_none_found(kind, namespace, False))
            return EXIT_OK
    query = {"gracePeriodSeconds": str(grace)} if grace >= 0 else None
    status = EXIT_OK
    deleted: list[tuple[str, str]] = []
    for name in names:
        try:
            obj = client.delete(kind.item(namespace, name), query)
        except CliError as error:
            err.write(error.render() + "\n")
            status = EXIT_FAILED
            continue
        verb = "force deleted" if args.force and grace == 0 else "deleted"
        out.write(f'{kind.qualified} "{name}" {verb}\n')
        out.flush()
        uid = str(((obj or {}).get("metadata") or {}).get("uid") or "") if isinstance(obj, dict) else ""
        deleted.append((name, uid))
    if args.wait:
        deadline = time.monotonic() + args.timeout if args.timeout > 0 else 0.0
        for name, uid in deleted:
            try:
                _wait_deleted(client, kind, namespace, name, uid, deadline)
            except CliError as error:
                err.write(error.render() + "\n")
                status = EXIT_FAILED
    return status


# ---- logs / exec ---------------------------------------------------------------------------------------


def _pick_container(pod: Mapping[str, Any], requested: str | None, err: TextIO) -> str:
    """kubectl's container default: -c, else the default-container annotation, else the first (with a note)."""
    if requested:
        return requested
    containers = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    chosen = annotations.get(DEFAULT_CONTAINER_ANNOTATION)
    if chosen in containers:
        return str(chosen)
    if not containers:
        raise CliError(f"pod {output.name_of(pod)} has no containers")
    if len(containers) > 1:
        err.write(f'Defaulted container "{containers[0]}" out of: {", ".join(containers)}\n')
    return containers[0]


def configure_logs(parser: argparse.ArgumentParser) -> None:
    _intermixed(parser)
    parser.add_argument("pod", help="the pod (pod/NAME also works)")
    parser.add_argument("container_arg", nargs="?", metavar="CONTAINER", help="the container (same as -c)")
    parser.add_argument("-c", "--container", help="the container (default: the only or first one)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep streaming new output")
    parser.add_argument("-p", "--previous", action="store_true", help="the previous instance of the container")
    parser.add_argument("--tail", type=int, default=-1, metavar="N", help="only the last N lines")
    parser.add_argument("--timestamps", action="store_true", help="prefix each line with its RFC 3339 time")
    parser.add_argument("--since", metavar="DURATION", help="only newer lines (5s, 2m, 1h)")
    _add_namespace(parser)
    _add_server(parser)


def _duration(text: str) -> float:
    """An argparse type: plain seconds (``1.5``) or a Go-style duration (``30s``, ``2m``, ``1h30m``)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return float(_seconds(text))
    except UsageError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    total = 0.0
    number = ""
    for ch in text.strip():
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in units and number:
            total += float(number) * units[ch]
            number = ""
        else:
            raise UsageError(f"invalid duration {text!r}: use e.g. 30s, 5m, 1h")
    if number:
        raise UsageError(f"invalid duration {text!r}: a unit (s, m, h) is required")
    return max(1, math.ceil(total))


def _pod_name(text: str) -> str:
    prefix, _, rest = text.partition("/")
    if rest and prefix.lower() in ("pod", "pods", "po"):
        return rest
    if rest:
        raise UsageError(f"only pods are supported, got {text!r}")
    return text


@_handles_errors
def run_logs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    client = _client(args)
    namespace = _namespace(args)
    name = _pod_name(args.pod)
    if args.container and args.container_arg:
        raise UsageError("give the container either with -c or as an argument, not both")
    pod = client.get(KINDS["pods"].item(namespace, name))
    container = _pick_container(pod, args.container or args.container_arg, err)
    query: dict[str, str] = {"container": container}
    if args.follow:
        query["follow"] = "true"
    if args.previous:
        query["previous"] = "true"
    if args.tail >= 0:
        query["tailLines"] = str(args.tail)
    if args.timestamps:
        query["timestamps"] = "true"
    if args.since:
        query["sinceSeconds"] = str(_seconds(args.since))
    try:
        with client.stream(f"/api/v1/namespaces/{namespace}/pods/{name}/log", query) as lines:
            for line in lines:
                out.write(line.decode("utf-8", errors="replace"))
                out.flush()
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


def configure_exec(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pod", help="the pod (pod/NAME also works)")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARG...]", help="what to run")
    parser.add_argument("-c", "--container", help="the container (default: the only or first one)")
    parser.add_argument("-i", "--stdin", action="store_true", help="accepted for habit; input is not forwarded")
    parser.add_argument("-t", "--tty", action="store_true", help="accepted for habit; no terminal is allocated")
    _add_namespace(parser)
    _add_server(parser)


def _exec_options(tokens: Sequence[str]) -> argparse.Namespace:
    """Options written between the pod and ``--`` (``exec web -c app -- ls``)."""
    parser = argparse.ArgumentParser(prog="minikube-py exec", add_help=False, exit_on_error=False)
    parser.add_argument("-c", "--container")
    parser.add_argument("-n", "--namespace")
    parser.add_argument("-s", "--server")
    parser.add_argument("-i", "--stdin", action="store_true")
    parser.add_argument("-t", "--tty", action="store_true")
    try:
        parsed, extra = parser.parse_known_args(list(tokens))
    except argparse.ArgumentError as error:
        raise UsageError(str(error)) from None
    if extra:
        raise UsageError(f"unexpected arguments before --: {' '.join(extra)}")
    return parsed


@_handles_errors
def run_exec(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    tokens = list(args.command)
    if "--" in tokens:
        split = tokens.index("--")
        extra = _exec_options(tokens[:split])
        command = tokens[split + 1 :]
        for key in ("container", "namespace", "server"):
            if getattr(extra, key):
                setattr(args, key, getattr(extra, key))
        args.stdin = args.stdin or extra.stdin
        args.tty = args.tty or extra.tty
    else:
        command = tokens  # argparse already took the "--" that followed the pod
    if not command:
        raise UsageError("you must specify at least one command for the container")
    if args.stdin or args.tty:
        err.write("Unable to use a TTY or standard input: minikube-py exec runs the command non-interactively\n")
    client = _client(args)
    namespace = _namespace(args)
    name = _pod_name(args.pod)
    pod = client.get(KINDS["pods"].item(namespace, name))
    container = _pick_container(pod, args.container, err)
    reply = client.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/pods/{name}/exec",
        query=[("container", container), *(("command", c) for c in command)],
        timeout=None,
    ).json()
    if not isinstance(reply, dict):
        raise CliError("the node agent sent an exec reply that is not an object")
    out.write(str(reply.get("stdout") or ""))
    out.flush()
    err.write(str(reply.get("stderr") or ""))
    code = int(reply.get("exitCode") or 0)
    if code:
        err.write(f"command terminated with exit code {code}\n")
    return code


# ---- top -----------------------------------------------------------------------------------------------


def configure_top(parser: argparse.ArgumentParser) -> None:
    _intermixed(parser)
    parser.add_argument("resource", help="pods|po or nodes|no")
    parser.add_argument("name", nargs="?", help="only this object")
    _add_namespace(parser, all_namespaces=True)
    parser.add_argument("-l", "--selector", metavar="SELECTOR", help="label selector (pods)")
    parser.add_argument("--containers", action="store_true", help="one row per container (pods)")
    parser.add_argument("--sort-by", choices=("cpu", "memory"), help="sort by usage, largest first")
    parser.epilog = (
        f"{THROTTLED_HEADER} (pods) is the total time the containers' CPU was throttled by their CPU limit since "
        "they started (cgroup cpu.stat), in seconds."
    )
    parser.add_argument("--no-headers", action="store_true", help="omit the header row")
    _add_server(parser)


@dataclass
class _Usage:
    nano_cores: int = 0
    working_set: int = 0
    throttled_ns: int = 0
    throttled_periods: int = 0

    def add(self, stats: Mapping[str, Any]) -> None:
        cpu = stats.get("cpu") or {}
        memory = stats.get("memory") or {}
        self.nano_cores += int(cpu.get("usageNanoCores") or 0)
        self.throttled_ns += int(cpu.get("throttledTimeNanoSeconds") or 0)
        self.throttled_periods += int(cpu.get("throttledPeriods") or 0)
        self.working_set += int(memory.get("workingSetBytes") or 0)

    @property
    def milli_cores(self) -> int:
        return math.ceil(self.nano_cores / 1_000_000)  # Quantity.MilliValue rounds up

    def cpu(self) -> str:
        return f"{self.milli_cores}m"

    def memory(self) -> str:
        return f"{self.working_set // (1024 * 1024)}Mi"

    def throttled(self) -> str:
        return f"{self.throttled_ns / 1e9:.2f}"


THROTTLED_HEADER = "CPU-THROTTLED(seconds)"


def _summary(client: Client, node: str) -> dict[str, Any]:
    summary = client.get(f"/api/v1/nodes/{node}/proxy/stats/summary")
    if not isinstance(summary, dict):
        raise CliError(f"node {node} sent a stats summary that is not an object")
    return summary


@_handles_errors
def run_top(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    kind = resolve_kind(args.resource)
    client = _client(args)
    if kind.plural == "nodes":
        return _top_nodes(client, args, out, err)
    if kind.plural == "pods":
        return _top_pods(client, args, out, err)
    raise UsageError(f"top supports pods and nodes, not {kind.plural}")


def _top_nodes(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.name:
        nodes = [client.get(KINDS["nodes"].item(None, args.name))]
    else:
        query = {"labelSelector": args.selector} if args.selector else None
        nodes = list(client.get(KINDS["nodes"].collection(None), query).get("items") or [])
    if not nodes:
        err.write("No resources found\n")
        return EXIT_OK
    rows: list[tuple[_Usage | None, list[str]]] = []
    for node in nodes:
        name = output.name_of(node)
        try:
            stats = _summary(client, name).get("node") or {}
        except CliError as error:
            err.write(f"warning: no metrics from node {name}: {error.message}\n")
            rows.append((None, [name, output.UNKNOWN, output.UNKNOWN, output.UNKNOWN, output.UNKNOWN]))
            continue
        usage = _Usage()
        usage.add(stats)
        allocatable = output.quantity_map((node.get("status") or {}).get("allocatable"))
        cpu_alloc, mem_alloc = allocatable.get("cpu"), allocatable.get("memory")
        cpu_pct = usage.milli_cores * 100 // cpu_alloc.milli_value() if cpu_alloc and cpu_alloc.milli_value() else 0
        mem_pct = usage.working_set * 100 // mem_alloc.value() if mem_alloc and mem_alloc.value() else 0
        rows.append((usage, [name, usage.cpu(), f"{cpu_pct}%", usage.memory(), f"{mem_pct}%"]))
    _sort_usage(rows, args.sort_by)
    table = output.Table(["NAME", "CPU(cores)", "CPU%", "MEMORY(bytes)", "MEMORY%"], upper=False)
    out.write(table.render([r for _, r in rows], header=not args.no_headers))
    return EXIT_OK


def _sort_usage(rows: list[tuple[_Usage | None, list[str]]], by: str | None) -> None:
    if by == "cpu":
        rows.sort(key=lambda r: -(r[0].nano_cores if r[0] else -1))
    elif by == "memory":
        rows.sort(key=lambda r: -(r[0].working_set if r[0] else -1))


def _top_pods(client: Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    namespace = None if args.all_namespaces else _namespace(args)
    pods_kind = KINDS["pods"]
    if args.name:
        if args.all_namespaces:
            raise UsageError("a resource cannot be retrieved by name across all namespaces")
        pods = [client.get(pods_kind.item(namespace, args.name))]
    else:
        query = {"labelSelector": args.selector} if args.selector else None
        pods = list(client.get(pods_kind.collection(namespace), query).get("items") or [])
    if not pods:
        err.write(_none_found(pods_kind, namespace, bool(args.all_namespaces)))
        return EXIT_OK
    wanted = {(output.namespace_of(p), output.name_of(p)) for p in pods}
    stats: dict[tuple[str, str], dict[str, Any]] = {}
    for node in sorted({str((p.get("spec") or {}).get("nodeName") or "") for p in pods} - {""}):
        try:
            summary = _summary(client, node)
        except CliError as error:
            err.write(f"warning: no metrics from node {node}: {error.message}\n")
            continue
        for pod_stats in summary.get("pods") or []:
            ref = pod_stats.get("podRef") or {}
            key = (str(ref.get("namespace", "")), str(ref.get("name", "")))
            if key in wanted:
                stats[key] = pod_stats
    if not stats:
        where = (
            f"pod {namespace}/{args.name}"
            if args.name
            else "pods" + (f" in namespace {namespace}" if namespace else "")
        )
        raise CliError(f"metrics not available yet for {where}")
    headers = ["NAME", "CPU(cores)", "MEMORY(bytes)", THROTTLED_HEADER]
    if args.containers:
        headers.insert(0, "POD")
    if args.all_namespaces:
        headers.insert(0, "NAMESPACE")
    rows: list[tuple[_Usage | None, list[str]]] = []
    for (ns, name), pod_stats in sorted(stats.items()):
        containers = [c for c in pod_stats.get("containers") or [] if isinstance(c, dict)]
        prefix = [ns] if args.all_namespaces else []
        if args.containers:
            for c in sorted(containers, key=lambda c: str(c.get("name", ""))):
                usage = _Usage()
                usage.add(c)
                rows.append(
                    (usage, [*prefix, name, str(c.get("name", "")), usage.cpu(), usage.memory(), usage.throttled()])
                )
            continue
        usage = _Usage()
        if containers:
            for c in containers:
                usage.add(c)
        else:
            usage.add(pod_stats)
        rows.append((usage, [*prefix, name, usage.cpu(), usage.memory(), usage.throttled()]))
    _sort_usage(rows, args.sort_by)
    table = output.Table(headers, upper=False)  # kubectl top keeps CPU(cores) / MEMORY(bytes) as written
    out.write(table.render([r for _, r in rows], header=not args.no_headers))
    return EXIT_OK
