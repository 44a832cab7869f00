"""A local, SigmaMind-compatible API server (design §7), for tests, benchmarks and trying suitesync."""

from suitesync.emulator.faults import ApiBehaviour, FaultConfig
from suitesync.emulator.server import Emulator, NotLoopbackError

__all__ = ["ApiBehaviour", "Emulator", "FaultConfig", "NotLoopbackError"]
