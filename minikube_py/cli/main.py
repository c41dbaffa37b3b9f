"""The ``minikube-py`` command line: subcommands only, each a small function pair.

Adding a verb means writing ``_configure_<verb>(parser)`` and ``_run_<verb>(args, out, err) -> int`` and
listing them in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import minikube_py
from minikube_py import manifests
from minikube_py.api import codec, defaults, field, qos, types, validation
from minikube_py.cli import kubectl

PROG = "minikube-py"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, TextIO, TextIO], int]


def _add_file_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="FILE",
        help="a manifest file, a directory of them, or - for standard input (repeatable)",
    )
    parser.add_argument("-R", "--recursive", action="store_true", help="process directories given with -f recursively")


def object_ref(obj: types.KubeObject | dict[str, Any]) -> str:
    """kubectl's ``kind/name`` (``pod/web``)."""
    if isinstance(obj, dict):
        kind = str(obj.get("kind") or "object")
        metadata = obj.get("metadata")
        name = metadata.get("name", "") if isinstance(metadata, dict) else ""
    else:
        kind = obj.kind
        metadata_obj = getattr(obj, "metadata", None)
        name = getattr(metadata_obj, "name", "") or getattr(metadata_obj, "generate_name", "")
    return f"{kind.lower()}/{name}"


def invalid_message(kind: str, name: str, errors: Sequence[field.FieldError]) -> str:
    """kubectl's rendering of a 422: one error inline, several as a bulleted list."""
    error = field.InvalidObject(kind, name, errors)
    messages: list[str] = []
    for e in errors:
        if e.message() not in messages:
            messages.append(e.message())
    if len(messages) <= 1:
        return f"The {error.message()}"
    head = f"The {kind} {field.go_quote(name)} is invalid: "
    return head + "".join(f"\n* {m}" for m in messages)


def _print_warnings(warnings: Sequence[str], err: TextIO) -> None:
    for warning in warnings:
        err.write(f"Warning: {warning}\n")


def _decode_and_default(manifest: manifests.Manifest, err: TextIO) -> types.KubeObject | None:
    """Decode and default one object; report problems on ``err`` and return None when it is unusable."""
    warnings: list[str] = []
    try:
        obj = codec.decode_object(manifest.data, warnings=warnings)
    except codec.DecodeError as decode_error:
        _print_warnings(decode_error.warnings, err)
        err.write(invalid_message(decode_error.kind, decode_error.name, decode_error.errors) + "\n")
        return None
    _print_warnings(warnings, err)
    defaults.default_object(obj)
    return obj


# ---- version -------------------------------------------------------------------------------------------


def _configure_version(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def _run_version(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    del args, err
    out.write(f"{PROG} {minikube_py.__version__}\n")
    return EXIT_OK


# ---- validate ------------------------------------------------------------------------------------------


def _configure_validate(parser: argparse.ArgumentParser) -> None:
    _add_file_options(parser)


def _run_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loaded = manifests.load(args.filename, recursive=args.recursive)
    status = EXIT_OK
    for manifest in loaded:
        obj = _decode_and_default(manifest, err)
        if obj is None:
            status = EXIT_FAILED
            continue
        problems = validation.validate_object(obj)
        if problems:
            meta = getattr(obj, "metadata", None)
            name = getattr(meta, "name", "") or getattr(meta, "generate_name", "")
            err.write(invalid_message(obj.kind, name, problems) + "\n")
            status = EXIT_FAILED
        else:
            out.write(f"{object_ref(obj)} validated\n")
    return status


# ---- convert -------------------------------------------------------------------------------------------


def _configure_convert(parser: argparse.ArgumentParser) -> None:
    _add_file_options(parser)
    parser.add_argument(
        "-o", "--output", choices=manifests.FORMATS, default="yaml", help="output format (default: yaml)"
    )


def _run_convert(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loaded = manifests.load(args.filename, recursive=args.recursive)
    converted: list[dict[str, Any]] = []
    status = EXIT_OK
    for manifest in loaded:
        obj = _decode_and_default(manifest, err)
        if obj is None:
            status = EXIT_FAILED
            continue
        if isinstance(obj, types.Pod):
            obj.status.qos_class = str(qos.pod_qos_class(obj))
        converted.append(codec.encode(obj))
    if status == EXIT_OK and converted:
        manifests.write(converted, args.output, out)
    return status


def _read_optional_file(path: str | None) -> str | None:
    if not path:
        return None
    with open(path) as f:
        return f.read()


def _run_foreground(coro: Coroutine[Any, Any, None], err: TextIO) -> int:
    """Run a long-lived service; configuration and OS errors become a message and an exit status."""
    import asyncio

    from minikube_py.control.scheduler.profile import ConfigError

    try:
        asyncio.run(coro)
    except ConfigError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    except OSError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_FAILED
    return EXIT_OK


def _configure_control_plane(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default="/var/lib/minikube-py", help="where the SQLite state lives")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    parser.add_argument("--port", type=int, default=6443)
    parser.add_argument(
        "--node-monitor-grace-period", type=float, default=40.0, help="seconds before a silent node is Unknown"
    )
    parser.add_argument("--scheduler-config", metavar="FILE", help="KubeSchedulerConfiguration YAML (profiles)")


def _run_control_plane(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from minikube_py.util import malloc

    malloc.pin_mmap_threshold()  # a long-lived service: see util/malloc.py
    from minikube_py.control import main as control_main  # the composition root; imported only when used

    config = control_main.ControlPlaneConfig(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        node_monitor_grace_period=args.node_monitor_grace_period,
        scheduler_config=_read_optional_file(args.scheduler_config),
    )
    return _run_foreground(control_main.serve(config), err)


def _add_eviction_flags(parser: argparse.ArgumentParser) -> None:
    """The kubelet's eviction flags; without any of them (and without --config) node-pressure eviction is off."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="KubeletConfiguration YAML/JSON (evictionHard, evictionSoft, ..., housekeepingInterval); flags win",
    )
    parser.add_argument("--eviction-hard", metavar="SIGNAL<QTY,...", help="e.g. memory.available<128Mi")
    parser.add_argument("--eviction-soft", metavar="SIGNAL<QTY,...")
    parser.add_argument("--eviction-soft-grace-period", metavar="SIGNAL=DURATION,...", help="e.g. memory.available=30s")
    parser.add_argument("--eviction-minimum-reclaim", metavar="SIGNAL=QTY,...")
    parser.add_argument("--eviction-max-pod-grace-period", type=int, metavar="SECONDS")
    parser.add_argument("--eviction-pressure-transition-period", metavar="DURATION", help="default 5m")
    parser.add_argument("--housekeeping-interval", metavar="DURATION", help="eviction pass cadence, default 10s")


# flag attribute -> (KubeletConfiguration key, separator of a map flag, or None for a scalar)
EVICTION_FLAGS: dict[str, tuple[str, str | None]] = {
    "eviction_hard": ("evictionHard", "<"),
    "eviction_soft": ("evictionSoft", "<"),
    "eviction_soft_grace_period": ("evictionSoftGracePeriod", "="),
    "eviction_minimum_reclaim": ("evictionMinimumReclaim", "="),
    "eviction_max_pod_grace_period": ("evictionMaxPodGracePeriod", None),
    "eviction_pressure_transition_period": ("evictionPressureTransitionPeriod", None),
    "housekeeping_interval": ("housekeepingInterval", None),
}


def _eviction_config(args: argparse.Namespace) -> Any:
    """An EvictionConfig from --config and the flags (flags override the file), or None when neither was
    given. Raises EvictionConfigError, also for an unreadable or malformed file."""
    from minikube_py.node.eviction import types as eviction_types

    given = {name: getattr(args, name) for name in EVICTION_FLAGS if getattr(args, name) is not None}
    if not given and not args.config:
        return None
    raw: dict[str, Any] = {}
    if args.config:
        raw.update(_read_kubelet_config(args.config))
    for name, value in given.items():
        key, separator = EVICTION_FLAGS[name]
        raw[key] = eviction_types.parse_flag(value, separator) if separator else value
    return eviction_types.parse_config(raw)


def _read_kubelet_config(path: str) -> dict[str, Any]:
    from minikube_py.node.eviction.types import EvictionConfigError
    from minikube_py.util.yamlfile import SettingsFileError, load_mapping

    try:
        loaded = load_mapping(path, "--config")
    except SettingsFileError as exc:
        raise EvictionConfigError(f"{exc} (a KubeletConfiguration)") from exc
    kind = loaded.get("kind", "KubeletConfiguration")
    if kind != "KubeletConfiguration":
        raise EvictionConfigError(f"--config {path}: kind must be KubeletConfiguration, not {kind!r}")
    return loaded


def _eviction_argv(args: argparse.Namespace) -> list[str]:
    """The same flags, to pass on to agent processes (the config file by its absolute path)."""
    import os

    # --flag=value: a value beginning with "-" must not read as an option.
    argv: list[str] = [f"--config={os.path.abspath(args.config)}"] if args.config else []
    for name in EVICTION_FLAGS:
        value = getattr(args, name)
        if value is not None:
            argv.append(f"--{name.replace('_', '-')}={value}")
    return argv


def _configure_up(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default="/var/lib/minikube-py", help="state, logs and the SQLite store")
    parser.add_argument("--port", type=int, default=6443, help="API server port on 127.0.0.1")
    parser.add_argument("--nodes", type=int, default=1, help="number of node agents")
    parser.add_argument("--node-cpu", help="cpu capacity each node advertises (default: the machine's)")
    parser.add_argument("--node-memory", help="memory capacity each node advertises (default: the machine's)")
    parser.add_argument("--scheduler-config", metavar="FILE", help="KubeSchedulerConfiguration YAML (profiles)")
    parser.add_argument(
        "--node-monitor-grace-period", type=float, default=40.0, help="seconds before a silent node is Unknown"
    )
    parser.add_argument(
        "--node-status-update-frequency", type=float, default=10.0, help="seconds between the agents' heartbeats"
    )
    _add_eviction_flags(parser)


def _run_up(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from minikube_py.util import malloc

    malloc.pin_mmap_threshold()  # a long-lived service: see util/malloc.py
    import os

    from minikube_py import cluster  # the composition root; imported only when used

    if os.geteuid() != 0:
        print("error: minikube-py up runs real pods and needs root (cgroups and namespaces)", file=err)
        return EXIT_FAILED
    if args.nodes < 1:
        print("error: --nodes must be at least 1", file=err)
        return EXIT_USAGE
    from minikube_py.node.eviction.types import EvictionConfigError

    try:
        eviction = _eviction_config(args)
    except EvictionConfigError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    config = cluster.UpConfig(
        data_dir=args.data_dir,
        port=args.port,
        nodes=args.nodes,
        node_cpu=args.node_cpu,
        node_memory=args.node_memory,
        scheduler_config=_read_optional_file(args.scheduler_config),
        node_monitor_grace_period=args.node_monitor_grace_period,
        heartbeat_interval=args.node_status_update_frequency,
        eviction=eviction,
        eviction_argv=tuple(_eviction_argv(args)),
    )
    return _run_foreground(cluster.up(config), err)


def _configure_agent(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", required=True, help="the API server URL, e.g. http://10.0.0.1:6443")
    parser.add_argument("--node-name", required=True)
    parser.add_argument("--data-dir", default="/var/lib/minikube-py/agent")
    parser.add_argument("--cgroup-parent", help="hierarchy path for the node's cgroups (default: the agent's own)")
    parser.add_argument("--address", default="127.0.0.1", help="address the control plane reaches this agent at")
    parser.add_argument("--listen", default="127.0.0.1", help="address the agent's HTTP endpoint binds")
    parser.add_argument("--port", type=int, default=10250)
    parser.add_argument("--token", default="", help="shared token the control plane must present")
    parser.add_argument("--cpu", help="override the cpu capacity")
    parser.add_argument("--memory", help="override the memory capacity")
    parser.add_argument("--node-dir", default="", help="name of the node's cgroup directory (default minikube_py-NAME)")
    parser.add_argument(
        "--pod-network",
        action="store_true",
        help="give pods IPs from the node's pod CIDR: a bridge, a veth per pod and routes to other nodes, all in "
        "the agent's network namespace (the machine's own, when the agent runs on it)",
    )
    parser.add_argument(
        "--heartbeat-interval", type=float, default=10.0, metavar="SECONDS", help="node status update period"
    )
    parser.add_argument(
        "--delegated-cgroup",
        action="store_true",
        help="the agent's cgroup is delegated to it alone (systemd Delegate=yes): on cgroup v2 move its own "
        "processes into a leaf so controllers can be enabled for the pods",
    )
    parser.add_argument(
        "--remove-pods-on-exit", action="store_true", help="on SIGTERM stop every pod and remove the node's cgroups"
    )
    _add_eviction_flags(parser)


def _run_agent(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from minikube_py.util import malloc

    malloc.pin_mmap_threshold()  # a long-lived service: see util/malloc.py
    import asyncio
    import contextlib
    import signal

    from minikube_py.node.agent import Agent, AgentConfig
    from minikube_py.node.apiclient import ApiRequestError
    from minikube_py.node.eviction.types import EvictionConfigError
    from minikube_py.util import sdnotify

    try:
        eviction = _eviction_config(args)
    except EvictionConfigError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE

    config = AgentConfig(
        server=args.server,
        node_name=args.node_name,
        data_dir=args.data_dir,
        cgroup_parent=args.cgroup_parent,
        address=args.address,
        listen=args.listen,
        port=args.port,
        token=args.token,
        cpu=args.cpu,
        memory=args.memory,
        node_dir=args.node_dir,
        delegated_cgroup=args.delegated_cgroup,
        pod_network=args.pod_network,
        heartbeat_interval=args.heartbeat_interval,
        eviction=eviction,
    )

    async def run() -> None:
        agent = Agent(config)
        # Signals are ours from the start: a SIGTERM while joining must still stop the node shim it started.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        starting = asyncio.create_task(agent.start())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()  # Agent.start releases what it made (shim, cgroups) when it is interrupted
            with contextlib.suppress(asyncio.CancelledError, ApiRequestError):
                await starting
            return
        stopping.cancel()
        try:
            starting.result()
        except ApiRequestError as exc:
            raise OSError(f"cannot join the control plane: {exc}") from exc
        print(f"minikube-py agent {config.node_name} joined {config.server}", file=out, flush=True)
        sdnotify.ready()  # Type=notify: the unit is active once the node has joined
        await stop.wait()
        sdnotify.stopping()
        # By default pods keep running when the agent stops; a restarted agent re-adopts them.
        await agent.stop(remove_pods=args.remove_pods_on_exit)

    return _run_foreground(run(), err)


COMMANDS: tuple[Command, ...] = (
    Command("version", "print the version", _configure_version, _run_version),
    Command(
        "validate",
        "decode, default and validate manifests the way the API server would",
        _configure_validate,
        _run_validate,
    ),
    Command("convert", "print manifests with every default filled in", _configure_convert, _run_convert),
    Command("up", "run a control plane and local node agents in the foreground", _configure_up, _run_up),
    Command("agent", "run a node agent that joins a control plane", _configure_agent, _run_agent),
    Command(
        "control-plane",
        "run the API server, store and controllers in the foreground",
        _configure_control_plane,
        _run_control_plane,
    ),
    Command("apply", "create or update objects from manifests (-f)", kubectl.configure_apply, kubectl.run_apply),
    Command("create", "create a namespace, or objects from -f", kubectl.configure_create, kubectl.run_create),
    Command("get", "list objects as a table or json/yaml/name; -w watches", kubectl.configure_get, kubectl.run_get),
    Command("describe", "show a pod or node in detail", kubectl.configure_describe, kubectl.run_describe),
    Command("delete", "delete objects and wait until they are gone", kubectl.configure_delete, kubectl.run_delete),
    Command("logs", "print or follow (-f) a container's logs", kubectl.configure_logs, kubectl.run_logs),
    Command("exec", "run a command in a container: exec POD -- CMD...", kubectl.configure_exec, kubectl.run_exec),
    Command("top", "CPU, memory and CPU throttling of pods or nodes", kubectl.configure_top, kubectl.run_top),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="A small Kubernetes that runs real processes.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point of the ``minikube-py`` console script; returns the exit status."""
    stdout = out if out is not None else sys.stdout
    stderr = err if err is not None else sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        code: int = args.run(args, stdout, stderr)
    except manifests.ManifestError as error:
        stderr.write(f"error: {error}\n")
        return EXIT_FAILED
    return code


if __name__ == "__main__":
    sys.exit(main())
