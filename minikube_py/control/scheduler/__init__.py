"""A kube-scheduler-shaped scheduler: a framework of plugins, pure Python, no I/O.

Modules (import them, not names from this package):

* ``framework``  -- Code, Status, CycleState, QueuedPodInfo, ClusterEvent, Handle, one protocol per extension point;
* ``nodeinfo``   -- integer pod requests (plain and non-zero) and NodeInfo (a node + its pods, precomputed sums);
* ``plugins``    -- PrioritySort, NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodeResourcesFit,
  NodeResourcesBalancedAllocation, DefaultBinder, and ``plugins.REGISTRY`` (name -> validating factory);
* ``profile``    -- KubeSchedulerConfiguration (dict or YAML) -> validated config -> built Profiles;
* ``cache``      -- nodes and their pods, with assumed pods;
* ``queue``      -- activeQ / backoffQ / unschedulable pool on an injected clock;
* ``scheduler``  -- ``Scheduler.schedule_one`` (one decision), ``schedule_next`` (one full cycle), ``run`` (loop);
* ``trace``      -- the per-decision trace (``ScheduleResult.trace.to_dict()``);
* ``perf``       -- ``python -m minikube_py.control.scheduler.perf`` prints pods/s at 100 and 1000 nodes.

The API server drives it: it builds a ``Scheduler`` (``Scheduler.from_config(config, bind=..., rng=..., clock=...)``),
feeds watch events to ``on_pod_added/updated/deleted`` and ``on_node_added/updated/deleted``, and either calls
``await schedule_next()`` itself or runs ``run(stop)``.  Binding goes through the ``bind(pod, node_name)`` callable
(sync or async) given to DefaultBinder; the binding should then come back through ``on_pod_updated``.

Node conditions: like kube-scheduler, this scheduler looks at taints only.  The node lifecycle controller must
turn MemoryPressure / DiskPressure / PIDPressure into ``node.kubernetes.io/*-pressure:NoSchedule`` taints, and
then a pressure condition blocks every new pod that does not tolerate the taint (Kubernetes' default, since the
PodTolerationRestriction admission plugin that would add the memory-pressure toleration is off by default).

Where this deliberately differs from kube-scheduler:

* plugins not implemented: SchedulingGates, NodePorts, the volume plugins, PodTopologySpread, InterPodAffinity,
  ImageLocality and DefaultPreemption (so no PostFilter runs by default, no preemption, and failure messages
  have no ``preemption: ...`` suffix; the PostFilter extension point itself works);
* PreFilter returns no ``PreFilterResult``: nodes are never pre-narrowed by name, so every node reports its own
  Filter reason (kube-scheduler would say ``node(s) didn't satisfy plugin(s) [NodeAffinity]``);
* scheduling is sequential (no parallel Filter/Score); Permit ``Wait`` is not supported (treated as a rejection);
  the binding cycle is awaited before the next pod instead of running concurrently (assume still happens first);
* queueing: one cluster-event table per plugin instead of QueueingHints; expired backoffs and 5-minute leftovers
  are flushed on every ``pop`` instead of by 1 s / 30 s timers;
* tie-breaking draws ``rng.random() * k < 1`` instead of ``rand.Intn(k) == 0`` (same reservoir sampling);
* additions: the decision trace, and an optional ``score_nodes`` batch method for Score plugins (speed);
* plugins without args reject a non-empty ``args``; unknown fields anywhere in the config are errors.
"""
