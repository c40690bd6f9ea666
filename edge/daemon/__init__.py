"""The daemon: the wiring of one box (``wiring.EdgeDaemon``), the supervision of its workers,
and ``gatepost edge run`` (``service``). Nothing below imports it."""
