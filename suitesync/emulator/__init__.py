"""A local, SigmaMind-compatible API server (design §7), for tests, benchmarks and trying suitesync."""

from suitesync.emulator.faults import FaultConfig
from suitesync.emulator.server import Emulator, NotLoopbackError

__all__ = ["Emulator", "FaultConfig", "NotLoopbackError"]
