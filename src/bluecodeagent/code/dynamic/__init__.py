"""Dynamic testing: probes that try to trigger a suspected weakness in the sandbox."""

from bluecodeagent.code.dynamic.base import Probe, ProbeResult, probe_for, probes, register

__all__ = ["Probe", "ProbeResult", "probe_for", "probes", "register"]
