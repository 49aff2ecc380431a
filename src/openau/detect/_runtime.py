"""ONNX Runtime sessions and execution-provider choice.

openau names devices, ONNX Runtime names execution providers:

==========  ===========================  ==================================
device      provider                     package that ships it
==========  ===========================  ==================================
cpu         CPUExecutionProvider         onnxruntime (always)
cuda        CUDAExecutionProvider        onnxruntime-gpu
coreml      CoreMLExecutionProvider      onnxruntime (macOS)
directml    DmlExecutionProvider         onnxruntime-directml (Windows)
openvino    OpenVINOExecutionProvider    onnxruntime-openvino
==========  ===========================  ==================================

``"auto"`` tries the accelerators in the order above that are installed and
takes the first that starts, else the CPU. An explicitly requested device
that is not installed or fails to start falls back to the CPU and reports
why (the caller turns that into one warning). ``"cpu"`` never touches
another provider.

``onnxruntime`` is imported inside the functions so that importing openau
stays fast.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from openau.errors import InputError

__all__ = [
    "DEVICES",
    "PROVIDERS",
    "AUTO_ORDER",
    "check_device",
    "installed_devices",
    "OpenedSessions",
    "open_sessions",
]

_log = logging.getLogger("openau.detect")

#: Accepted values of ``device``.
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "coreml", "directml", "openvino")

#: ONNX Runtime execution provider of each concrete device.
PROVIDERS: dict[str, str] = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}

#: Preference of ``device="auto"``: accelerators first, CPU last.
AUTO_ORDER: tuple[str, ...] = ("cuda", "coreml", "directml", "openvino", "cpu")

# Provider options. cuDNN's exhaustive algorithm search would rerun for every
# new input shape, and P-Net's shape changes per pyramid level and R/O-Net's
# batch per frame, so use its heuristics.
_PROVIDER_OPTIONS: dict[str, dict[str, str]] = {
    "cuda": {"cudnn_conv_algo_search": "HEURISTIC"},
}

# ONNX Runtime's own log goes to stderr; keep it to errors (openau's library
# code never prints, and fallbacks are reported as warnings instead).
_ORT_LOG_ERRORS_ONLY = 3


def check_device(device: str) -> str:
    """Validate a device name (case-insensitive) and return it in lower case.

    Raises
    ------
    InputError
        For a name not in :data:`DEVICES`.
    """
    name = str(device).strip().lower()
    if name not in DEVICES:
        raise InputError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    return name


def installed_devices() -> tuple[str, ...]:
    """The concrete devices whose execution provider this ONNX Runtime build ships.

    Being installed does not mean the device works (a CUDA build on a machine
    without a GPU, for instance); :func:`open_sessions` finds that out.
    """
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    return tuple(d for d in AUTO_ORDER if PROVIDERS[d] in available)


@dataclass(frozen=True)
class OpenedSessions:
    """Sessions for a set of graphs, all on one device.

    Attributes
    ----------
    sessions : dict of str to onnxruntime.InferenceSession
    device : str
        The device they run on (``"cpu"`` after a fallback).
    fallback_reason : str or None
        Why an explicitly requested device was not used; None otherwise.
    """

    sessions: dict
    device: str
    fallback_reason: str | None


def _session_options(device: str, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = _ORT_LOG_ERRORS_ONLY
    # A memory pattern is planned and kept per input shape, and P-Net sees a
    # new shape on every pyramid level (R- and O-Net a new batch size per
    # frame): the patterns cost memory (~10 MB per worker on 960x540 frames)
    # and gave no measurable speed. DirectML supports none anyway.
    options.enable_mem_pattern = False
    return options


def _create(graphs: dict[str, bytes], device: str, threads: int) -> dict:
    import onnxruntime as ort

    provider = PROVIDERS[device]
    providers: list = [(provider, _PROVIDER_OPTIONS.get(device, {}))]
    if device != "cpu":
        # Operators the accelerator lacks run on the CPU.
        providers.append("CPUExecutionProvider")
    options = _session_options(device, threads)
    return {
        name: ort.InferenceSession(graph, sess_options=options, providers=providers)
        for name, graph in graphs.items()
    }


def open_sessions(graphs: dict[str, bytes], device: str, threads: int = 1) -> OpenedSessions:
    """Create one ONNX Runtime session per graph on the requested device.

    Parameters
    ----------
    graphs : dict of str to bytes
        Serialised ONNX models by name.
    device : str
        One of :data:`DEVICES`.
    threads : int
        ONNX Runtime intra-op threads per session (0: ONNX Runtime's default,
        one per physical core).

    Returns
    -------
    OpenedSessions
    """
    import onnxruntime as ort

    device = check_device(device)
    if device == "cpu":
        return OpenedSessions(_create(graphs, "cpu", threads), "cpu", None)
    available = set(ort.get_available_providers())
    reason = None
    for candidate in AUTO_ORDER if device == "auto" else (device,):
        if candidate == "cpu":
            break
        provider = PROVIDERS[candidate]
        if provider not in available:
            reason = (
                f"onnxruntime has no {provider} (installed: {', '.join(sorted(available))}); "
                f"install the onnxruntime package built for {candidate}"
            )
            continue
        try:
            sessions = _create(graphs, candidate, threads)
        except Exception as exc:  # ONNX Runtime raises plain RuntimeError/Fail types
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            reason = f"{provider} failed to start: {first_line}"
            _log.debug("device %s unavailable: %s", candidate, reason)
            continue
        if any(s.get_providers()[0] != provider for s in sessions.values()):
            reason = f"{provider} failed to start (onnxruntime fell back to the CPU)"
            continue
        return OpenedSessions(sessions, candidate, None)
    if device == "auto":
        if reason:
            _log.info("device auto: using the CPU (%s)", reason)
        reason = None
    return OpenedSessions(_create(graphs, "cpu", threads), "cpu", reason)
