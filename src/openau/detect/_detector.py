"""``MTCNNDetector``: configuration plus lazily created ONNX Runtime sessions.

The detector object carries only configuration (where the models are, the
device, threads, detection parameters); it pickles as that, so it can be
sent to worker processes started with ``spawn``. Sessions are created on
first use in the thread that uses them, one set per thread, and are dropped
when the object finds itself in a different process (after a ``fork``).
The serialised graphs come from the per-user cache once built
(:mod:`openau.detect._graph_cache`), so later processes skip ``onnx``.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from openau.detect._cascade import (
    ONET_SIZE,
    RNET_SIZE,
    FaceBoxes,
    MTCNNParams,
    NetFn,
    run_cascade,
)
from openau.detect._graph_cache import cached_graph
from openau.detect._onnx import INPUT_NAME, OUTPUT_NAME, build_onnx, onnx_bytes
from openau.detect._oracle import forward_numpy
from openau.detect._runtime import check_device, open_sessions
from openau.errors import DeviceFallbackWarning, InputError
from openau.models.mtcnn import MTCNN_NETS, MTCNNModel, read_mtcnn
from openau.models.store import ModelStore

__all__ = ["MTCNNDetector", "numpy_networks"]

#: Fixed input size of each network (None: dynamic, P-Net on pyramid levels).
_INPUT_SIZES: dict[str, tuple[int, int] | None] = {
    "PNet": None,
    "RNet": (RNET_SIZE, RNET_SIZE),
    "ONet": (ONET_SIZE, ONET_SIZE),
}


# On the CPU, R- and O-Net candidates run in chunks of at most this many
# crops. A chunk's feature maps then stay in the core's L2 cache (an R-Net
# crop's first maps are ~60 KB, an O-Net crop's ~270 KB), which ONNX
# Runtime's element-wise passes between the convolutions need; one run over
# all crops spills them. Measured on one core (AVX2, 512 KB L2), CPU time per
# crop against one run over all: R-Net in 16s 0.81-0.88 from ~50 crops up,
# O-Net in 8s 0.87 at ~40 crops and no change below ~20 (run overhead ~20 us
# per chunk). Chunks also bound the buffers when many frames arrive at once.
# Accelerators take the whole batch in one run.
_CPU_CHUNK: dict[str, int] = {"RNet": 16, "ONet": 8}


def _outside_stacklevel() -> int:
    """``stacklevel`` that points a warning at the first frame outside this package."""
    here = os.path.dirname(__file__)
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(here):
        frame, level = frame.f_back, level + 1
    return level


def _nets_of(model: MTCNNModel) -> dict:
    return {"PNet": model.pnet, "RNet": model.rnet, "ONet": model.onet}


def numpy_networks(model: MTCNNModel) -> tuple[NetFn, NetFn, NetFn]:
    """P-, R- and O-Net as pure-numpy callables (slow; for tests and checks).

    Use with :func:`~openau.detect.run_cascade` to detect without ONNX Runtime.
    """
    nets = _nets_of(model)
    return tuple((lambda x, net=nets[name]: forward_numpy(net, x)) for name in MTCNN_NETS)


class MTCNNDetector:
    """OpenFace 2.2's MTCNN face detector on ONNX Runtime.

    Parameters
    ----------
    models : path-like, ModelStore or MTCNNModel
        The OpenFace models root, its ``model/`` or ``model/mtcnn_detector/``
        folder, a resolved :class:`~openau.models.ModelStore`, or networks
        already read with :func:`openau.models.read_mtcnn`.
    device : {"auto", "cpu", "cuda", "coreml", "directml", "openvino"}
        Where the networks run. ``"auto"`` takes the best installed
        accelerator that starts, else the CPU. A named accelerator that is not
        installed or fails to start falls back to the CPU with one
        :class:`~openau.errors.DeviceFallbackWarning` saying why.
    threads : int
        ONNX Runtime intra-op threads per session; 1 (default) suits one
        detector per worker process, 0 lets ONNX Runtime use every core.
    params : MTCNNParams, optional
        Detection settings (OpenFace's defaults when omitted).

    Raises
    ------
    ModelsNotFoundError, ModelFileError
        When the networks cannot be found or read.
    InputError
        For an unknown device or a negative thread count.

    Examples
    --------
    >>> detector = MTCNNDetector("openface-models", device="cpu")  # doctest: +SKIP
    >>> faces = detector.detect_faces([frame_bgr])[0]              # doctest: +SKIP
    >>> faces.corrected[pick_video_face(faces)]                    # doctest: +SKIP
    """

    def __init__(
        self,
        models: str | PathLike[str] | ModelStore | MTCNNModel,
        *,
        device: str = "auto",
        threads: int = 1,
        params: MTCNNParams | None = None,
    ) -> None:
        self.device = check_device(device)
        if not isinstance(threads, int | np.integer) or threads < 0:
            raise InputError(f"threads must be a non-negative integer, got {threads!r}")
        self.threads = int(threads)
        self.params = params if params is not None else MTCNNParams()
        if isinstance(models, MTCNNModel):
            self._source: Path | ModelStore | MTCNNModel = models
            model = models
        else:
            self._source = models if isinstance(models, ModelStore) else Path(models)
            model = read_mtcnn(self._source)  # fail early, in the caller's process
        self._reset_process_state(model)

    # -- per-process state ------------------------------------------------
    def _reset_process_state(self, model: MTCNNModel | None) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._model = model
        self._graphs: dict[str, bytes] | None = None
        self._active_device: str | None = None
        self._warned = False

    def __getstate__(self) -> dict:
        # Configuration only: sessions, locks and thread-locals never travel.
        return {
            "source": self._source,
            "device": self.device,
            "threads": self.threads,
            "params": self.params,
        }

    def __setstate__(self, state: dict) -> None:
        self._source = state["source"]
        self.device = state["device"]
        self.threads = state["threads"]
        self.params = state["params"]
        self._reset_process_state(self._source if isinstance(self._source, MTCNNModel) else None)

    def _check_process(self) -> None:
        if os.getpid() != self._pid:
            # Forked: inherited sessions (and a lock possibly held by a thread
            # that does not exist here) must not be used.
            self._reset_process_state(self._model)

    @property
    def model(self) -> MTCNNModel:
        """The three networks (read on first use after unpickling)."""
        self._check_process()
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = read_mtcnn(self._source)
        return self._model

    def _graph_bytes(self) -> dict[str, bytes]:
        model = self.model
        with self._lock:
            if self._graphs is None:
                nets = _nets_of(model)
                # Read back from the per-user cache when built before: building
                # needs the onnx package, slow to import (see _graph_cache).
                self._graphs = {
                    name: cached_graph(
                        nets[name],
                        {"input_size": _INPUT_SIZES[name]},
                        lambda name=name: onnx_bytes(nets[name], _INPUT_SIZES[name]),
                    )
                    for name in MTCNN_NETS
                }
            return self._graphs

    def _sessions(self) -> dict:
        self._check_process()
        sessions = getattr(self._local, "sessions", None)
        if sessions is not None:
            return sessions
        graphs = self._graph_bytes()
        # Once one thread has settled the device, later threads go straight to it.
        device = self._active_device or self.device
        opened = open_sessions(graphs, device, self.threads)
        with self._lock:
            if self._active_device is None:
                self._active_device = opened.device
            warn = opened.fallback_reason is not None and not self._warned
            self._warned = self._warned or warn
        if warn:
            warnings.warn(
                DeviceFallbackWarning(
                    f"device {self.device!r} not used, running MTCNN on the CPU: {opened.fallback_reason}"
                ),
                stacklevel=_outside_stacklevel(),
            )
        self._local.sessions = opened.sessions
        return opened.sessions

    # -- public -----------------------------------------------------------
    @property
    def active_device(self) -> str:
        """The device the sessions of this thread run on (creates them if needed)."""
        self._sessions()
        return self._active_device or "cpu"

    def networks(self) -> tuple[NetFn, NetFn, NetFn]:
        """P-, R- and O-Net as callables on this thread's sessions."""
        sessions = self._sessions()
        chunks = _CPU_CHUNK if self._active_device == "cpu" else {}

        def runner(name: str) -> NetFn:
            session, chunk = sessions[name], chunks.get(name)

            def run(x: np.ndarray) -> np.ndarray:
                if chunk is None or len(x) <= chunk:
                    return session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
                # Equal chunks (53 crops in 16s: 14, 13, 13, 13).
                step = -(-len(x) // -(-len(x) // chunk))
                parts = [
                    session.run([OUTPUT_NAME], {INPUT_NAME: x[i : i + step]})[0]
                    for i in range(0, len(x), step)
                ]
                return np.concatenate(parts)

            return run

        return tuple(runner(name) for name in MTCNN_NETS)

    def detect_faces(
        self,
        frames: Sequence[np.ndarray] | np.ndarray,
        stage_times: dict[str, float] | None = None,
    ) -> list[FaceBoxes]:
        """Detect faces in a batch of frames.

        Parameters
        ----------
        frames : sequence of (H, W, 3) uint8 ndarray, or (N, H, W, 3) uint8 ndarray
            BGR frames (OpenCV/PyAV ``bgr24``); ``(H, W)`` grey frames are
            accepted. Sizes may differ.
        stage_times : dict, optional
            Seconds per stage are added into it (see :func:`run_cascade`).

        Returns
        -------
        list of FaceBoxes
            One per frame, faces in OpenFace's order (decreasing confidence).
        """
        pnet, rnet, onet = self.networks()
        return run_cascade(frames, pnet, rnet, onet, self.params, stage_times)

    def detect(self, frame: np.ndarray) -> FaceBoxes:
        """Detect faces in one ``(H, W, 3)`` uint8 BGR frame."""
        return self.detect_faces([frame])[0]

    def close(self) -> None:
        """Drop this thread's sessions (they are recreated on next use)."""
        self._local.sessions = None

    def export_onnx(self, folder: str | PathLike[str]) -> dict[str, Path]:
        """Write the three ONNX graphs (``PNet.onnx``, ...) into ``folder``.

        Only on request: detection itself keeps the graphs in memory.

        Returns
        -------
        dict of str to Path
            The file written for each network.
        """
        import onnx

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        nets = _nets_of(self.model)
        written = {}
        for name in MTCNN_NETS:
            path = folder / f"{name}.onnx"
            onnx.save_model(build_onnx(nets[name], _INPUT_SIZES[name]), str(path))
            written[name] = path
        return written

    def __repr__(self) -> str:
        source = self._source
        if isinstance(source, MTCNNModel):
            source = source.source
        elif isinstance(source, ModelStore):
            source = source.root
        source = str(source)
        return f"MTCNNDetector({source!r}, device={self.device!r}, threads={self.threads})"
