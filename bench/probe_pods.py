"""The peer of the probes benchmark: a minimal stdlib asyncio prober doing the agent's probe load.

``python -S -m bench.probe_pods PERIOD DURATION IP...`` (started in the node's network namespace, where the agent
probes from) runs, for every pod IP, one httpGet worker (``GET /healthz`` on 8080, a new connection each time,
``Connection: close``, success iff 200 ≤ status < 400) and one tcpSocket worker (connect to 8080 and close), each
every PERIOD seconds on its own grid (a random phase within the first period, missed ticks dropped, as the agent's
worker does), for DURATION seconds.  It prints one JSON object: the CPU it used while probing (process_time, so
not its start-up), and per kind the start-to-start jitter |interval − period| and the latency of every run (ms).

Only the standard library: it must not charge the peer with imports the agent does not need for probing either.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from typing import Any

PORT = 8080
REQUEST = (
    "GET /healthz HTTP/1.1\r\nHost: {ip}:{port}\r\nUser-Agent: kube-probe/1.30\r\nAccept: */*\r\n"
    "Connection: close\r\n\r\n"
)


async def http_get(ip: str, timeout: float) -> bool:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, PORT), timeout)
    try:
        writer.write(REQUEST.format(ip=ip, port=PORT).encode())
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    status = int(data.split(b" ", 2)[1])
    return 200 <= status < 400


async def tcp_connect(ip: str, timeout: float) -> bool:
    _, writer = await asyncio.wait_for(asyncio.open_connection(ip, PORT), timeout)
    writer.close()
    return True


async def worker(kind: str, ip: str, period: float, end: float, out: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    probe = http_get if kind == "http" else tcp_connect
    mine = out[kind]
    next_tick = loop.time() + random.random() * period
    last: float | None = None
    while True:
        await asyncio.sleep(max(next_tick - loop.time(), 0.0))
        began = loop.time()
        if began > end:
            return
        if last is not None:
            mine["jitter_ms"].append(abs(began - last - period) * 1000)
        last = began
        try:
            ok = await probe(ip, 1.0)
        except (OSError, TimeoutError, ValueError, IndexError):
            ok = False
        mine["latency_ms"].append((loop.time() - began) * 1000)
        mine["failures"] += not ok
        now = loop.time()
        next_tick += period
        while next_tick <= now:
            next_tick += period


async def main(period: float, duration: float, ips: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {k: {"jitter_ms": [], "latency_ms": [], "failures": 0} for k in ("http", "tcp")}
    loop = asyncio.get_running_loop()
    cpu0, t0, times0 = time.process_time(), loop.time(), os.times()
    end = t0 + duration
    await asyncio.gather(*(worker(kind, ip, period, end, out) for ip in ips for kind in ("http", "tcp")))
    out["cpu_s"] = time.process_time() - cpu0
    times = os.times()
    out["user_s"], out["sys_s"] = times.user - times0.user, times.system - times0.system
    out["wall_s"] = loop.time() - t0
    return out


if __name__ == "__main__":
    result = asyncio.run(main(float(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]))
    print(json.dumps(result))
