"""Gate lanes: one owner per gate of what it knows about the vehicle in front of it."""

from edge.lanes.lane import Lane
from edge.lanes.messages import (
    CodeEntry,
    Command,
    DeviceState,
    GuardOpen,
    Inputs,
    PlateRead,
    Release,
    RulesChanged,
    TagRead,
    VisitorOpen,
)

__all__ = ["CodeEntry", "Command", "DeviceState", "GuardOpen", "Inputs", "Lane", "PlateRead",
           "Release", "RulesChanged", "TagRead", "VisitorOpen"]
