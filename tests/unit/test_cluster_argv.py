"""The agent processes `up --nodes N` starts get exactly the settings it was given, whatever their values."""

from __future__ import annotations

from minikube_py import cluster, nodenet
from minikube_py.cli.main import build_parser


def test_agent_command_line_parses_back_with_a_token_beginning_with_a_dash() -> None:
    # token_urlsafe's alphabet has "-": a separate "--token" "-x…" made argparse exit 2 (seen in CI).
    config = cluster.UpConfig(
        data_dir="/var/lib/mk",
        port=7443,
        node_cpu="2",
        node_memory="4Gi",
        eviction_argv=("--eviction-hard=memory.available<1Mi",),
    )
    net = nodenet.NodeNet(netns="mkpy-abc-n1", host_ip="10.213.7.1", node_ip="10.213.7.2")
    argv = cluster.agent_argv(config, "node-1", net, "-Zq3_token")
    assert argv[:3] == ["nsenter", "--net=/run/netns/mkpy-abc-n1", "--"]
    args = build_parser().parse_args(argv[argv.index("agent") :])
    assert (args.token, args.node_name, args.server) == ("-Zq3_token", "node-1", "http://10.213.7.1:7443")
    assert (args.address, args.port, args.cpu, args.memory) == ("10.213.7.2", 10250, "2", "4Gi")
    assert args.eviction_hard is not None
