"""Partner visitor-management apps (MyGate, NoBrokerHood, Zipgrid, ApnaComplex): a society's
integration, residents' links to the partner (``links``), the forwarding of their entries and
exits through a durable outbox (``forward``), and the HTTP client both use (``client``)."""
