"""The box's web faces: the local API, the guard's panel, Prometheus metrics and Home
Assistant. Each reads the box through one port (``edge.faces.port.Box``), never the daemon."""
