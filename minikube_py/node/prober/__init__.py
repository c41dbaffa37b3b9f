"""Container probes (the kubelet's ``pkg/kubelet/prober``): liveness, readiness and startup.

- ``results``: the vocabulary (probe kinds, results, outcomes, history entries);
- ``worker``: one ``ProbeWorker`` per (container, probe kind); ``do_probe()`` is one step with the threshold
  logic, ``run()`` only schedules it on the injected clock;
- ``runners``: the real ``Prober`` (exec inside the container, TCP and HTTP from inside the pod's network
  namespace); ``testing``: a scripted fake ``Prober`` for unit tests;
- ``netns``: sockets created inside another network namespace; ``httpclient``: the small HTTP/1.1 client;
- ``reaper``: the subreaper that exec probes run under, so a timed-out probe leaves no process and no zombie.
"""
