"""The MQTT wire contract's parts: the topic map, and the typed events and commands."""
