"""The scheduler's cache of nodes and the pods on them (``internal/cache/cache.go``), with assumed pods.

Binding is asynchronous: after choosing a node the scheduler *assumes* the pod there, so the very next
decision already counts its requests, before the API server confirms the binding.  When the bound pod is
then observed (``add_pod``), the assumption is confirmed; if binding fails, ``forget_pod`` takes it back.

``node_infos()`` returns the same :class:`NodeInfo` objects every time (in the order nodes were added);
they are updated in place, so a list obtained once keeps seeing assumed pods.
"""

from __future__ import annotations

from dataclasses import dataclass

from minikube_py.api import types
from minikube_py.control.scheduler.framework import pod_key
from minikube_py.control.scheduler.nodeinfo import NodeInfo, PodInfo, PodResources
from minikube_py.errors import AlreadyExists, NotFound


@dataclass(slots=True)
class _PodState:
    info: PodInfo
    node_name: str
    assumed: bool


class Cache:
    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        self._pods: dict[str, _PodState] = {}
        self._list: list[NodeInfo] | None = None

    # ---- nodes ---------------------------------------------------------------------------------

    def add_node(self, node: types.Node) -> NodeInfo:
        name = node.metadata.name
        info = self._nodes.get(name)
        if info is None:
            info = self._nodes[name] = NodeInfo(node)
        else:
            info.set_node(node)  # a placeholder created for pods seen before their node
        self._list = None
        return info

    def update_node(self, node: types.Node) -> NodeInfo:
        info = self._nodes.get(node.metadata.name)
        if info is None:
            return self.add_node(node)
        info.set_node(node)
        return info

    def remove_node(self, name: str) -> None:
        """Forget the node; its pods stay accounted on a placeholder until they are removed too."""
        info = self._nodes.get(name)
        if info is None:
            return
        if info.pods:
            info.remove_node()
        else:
            del self._nodes[name]
        self._list = None

    def get(self, name: str) -> NodeInfo | None:
        info = self._nodes.get(name)
        return info if info is not None and info.node is not None else None

    def node_infos(self) -> list[NodeInfo]:
        """The nodes the scheduler may use (placeholders excluded).  Do not modify the list."""
        if self._list is None:
            self._list = [info for info in self._nodes.values() if info.node is not None]
        return self._list

    def node_count(self) -> int:
        return len(self.node_infos())

    # ---- pods ----------------------------------------------------------------------------------

    def assume_pod(self, pod: types.Pod, node_name: str, resources: PodResources | None = None) -> None:
        """Account ``pod`` on ``node_name`` before its binding is confirmed."""
        key = pod_key(pod)
        if key in self._pods:
            raise AlreadyExists(f"pod {key} is already in the scheduler cache")
        info = PodInfo.of(pod, resources)
        self._node_for(node_name).add_pod(info)
        self._pods[key] = _PodState(info, node_name, assumed=True)

    def forget_pod(self, pod: types.Pod) -> None:
        """Undo ``assume_pod`` (the binding failed).  Forgetting a pod that is not assumed is an error."""
        key = pod_key(pod)
        state = self._pods.get(key)
        if state is None or not state.assumed:
            raise NotFound(f"pod {key} is not assumed in the scheduler cache")
        self._remove(key, state)

    def is_assumed(self, pod: types.Pod) -> bool:
        state = self._pods.get(pod_key(pod))
        return state is not None and state.assumed

    def add_pod(self, pod: types.Pod) -> None:
        """A pod bound to a node was observed: confirms an assumption, or accounts a pod bound elsewhere."""
        key = pod_key(pod)
        node_name = pod.spec.node_name
        if not node_name:
            return
        state = self._pods.get(key)
        if state is not None:
            if state.node_name == node_name:
                # Confirmed.  Keep the accounted requests; refresh the object.
                info = PodInfo(pod, key, state.info.resources)
                node = self._nodes[node_name]
                node.pods[key] = info
                self._pods[key] = _PodState(info, node_name, assumed=False)
                return
            self._remove(key, state)  # bound somewhere else than assumed
        info = PodInfo.of(pod)
        self._node_for(node_name).add_pod(info)
        self._pods[key] = _PodState(info, node_name, assumed=False)

    def update_pod(self, pod: types.Pod) -> None:
        """A bound pod changed (requests may have been resized): re-account it."""
        key = pod_key(pod)
        state = self._pods.get(key)
        if state is not None:
            self._remove(key, state)
        self.add_pod(pod)

    def remove_pod(self, pod: types.Pod) -> bool:
        """A pod went away; returns whether it was accounted on a node."""
        key = pod_key(pod)
        state = self._pods.get(key)
        if state is None:
            return False
        self._remove(key, state)
        return True

    def pod_node(self, pod: types.Pod) -> str | None:
        state = self._pods.get(pod_key(pod))
        return state.node_name if state is not None else None

    def _node_for(self, name: str) -> NodeInfo:
        info = self._nodes.get(name)
        if info is None:
            info = self._nodes[name] = NodeInfo()  # placeholder until the node is seen
            info.name = name
        return info

    def _remove(self, key: str, state: _PodState) -> None:
        del self._pods[key]
        node = self._nodes.get(state.node_name)
        if node is None:
            return
        node.remove_pod(key)
        if node.node is None and not node.pods:
            del self._nodes[state.node_name]
