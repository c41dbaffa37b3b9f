"""Pod networking: pod IPs from the node's CIDR, a bridge and a veth per pod, routes to other nodes.

* :mod:`.ipam` -- the node-local pod IP allocator (pure, persistent).
* :mod:`.podnet` -- :class:`PodNetwork`: bridge, veths, routes (pyroute2 ``AsyncIPRoute`` on the node's
  side, pyroute2 ``IPRoute`` inside each pod from a thread that entered its namespace).
* :mod:`.nsutil` -- network namespaces without forking (threads that ``setns()``).
* :mod:`.errors` -- the typed errors raised at this boundary.
"""

from minikube_py.node.network.errors import (
    IPAMError,
    IPAMExhausted,
    NetnsNotFound,
    NetworkError,
    NetworkNotReady,
)
from minikube_py.node.network.ipam import PodIPAM
from minikube_py.node.network.podnet import ROUTE_PROTO, PodNetwork, RouteSync, host_ifname, peers_from_nodes

__all__ = [
    "ROUTE_PROTO",
    "IPAMError",
    "IPAMExhausted",
    "NetnsNotFound",
    "NetworkError",
    "NetworkNotReady",
    "PodIPAM",
    "PodNetwork",
    "RouteSync",
    "host_ifname",
    "peers_from_nodes",
]
