"""Compiled kernels loaded as native code, without importing numba at run time.

openau's inner loops are numba kernels (the ``_*kernel*.py`` modules of each
stage). numba keeps compiled kernels in its own cache, but a process still
pays for importing numba and initialising its compiler before the first
cached kernel runs (about 0.6 s on one core, more than OpenFace spends loading
its models), and again for each kernel it loads (tens of ms). A whole
``openau extract`` of a short clip spends a third of its time there.

This module keeps a second cache: for each kernel and argument types, the
machine code numba produced (an object file), the names of its Python entry
point and of its environment, and the argument types. A later process links
that object file with llvmlite (the code generator numba itself uses, a
tenth of numba's start-up) and calls the entry point directly; numba is only
imported when a kernel meets argument types not cached yet, or when this
cache cannot be used. The machine code is numba's own, so results are
identical either way.

Call sites ask for a kernel module through :func:`kernels` instead of
importing it::

    _fit_kernel = kernels("openau.geometry._fit_kernel")
    _fit_kernel.fit(...)

The cache folder is ``native-kernels`` in openau's cache folder
(:func:`openau._cache_files.cache_root`),
one subfolder per *build key*: the kernel modules' sources, the numba,
llvmlite and Python versions and the host CPU's name and features. Any change
of these gives a new key, so stale or foreign machine code is never loaded
(a cluster sharing a home folder across CPU types gets one folder per CPU).
Each file is verified against the SHA-256 recorded beside it before it is
linked. Writes are atomic (temporary file, then rename), so concurrent worker
processes may fill the cache together. Set ``OPENAU_NATIVE_KERNELS=0`` to
always go through numba. Any failure to read, write or link falls back to
numba: the cache only changes speed.
"""

from __future__ import annotations

import base64
import builtins
import ctypes
import hashlib
import importlib
import importlib.machinery
import importlib.util
import json
import os
import pickle
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from openau._cache_files import cache_root, write_atomic

__all__ = ["cache_folder", "kernels"]

#: The modules holding numba kernels (their sources are part of the build key).
KERNEL_MODULES = (
    "openau.geometry._kernels",
    "openau.geometry._fit_kernel",
    "openau.landmarks._sampling",
    "openau.landmarks._response_kernel",
    "openau.landmarks._kernels",
    "openau.landmarks.fitting",
    "openau.detect._kernels",
    "openau.align._mask_kernel",
    "openau.features._fhog_kernel",
    "openau.au._median_kernel",
)
#: Bump when the layout of the cache changes.
FORMAT = "openau-native-kernels-1"
_SUBFOLDER = "native-kernels"
_ENV_SWITCH = "OPENAU_NATIVE_KERNELS"

# numba's type names of the scalar arguments, by Python type (numba's typeof).
_SCALARS = {
    bool: "bool",
    int: "int64",
    float: "float64",
    np.bool_: "bool",
    np.int32: "int32",
    np.int64: "int64",
    np.uint8: "uint8",
    np.float32: "float32",
    np.float64: "float64",
}

# The C math functions numba's code calls by their C names (numba's
# ``intrinsics.INTR_MATH``), bound as numba binds them.
_C_MATH = tuple(
    f + suffix
    for f in (
        "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "cos", "cosh", "exp",
        "expm1", "fabs", "floor", "fmod", "log", "log10", "log1p", "pow", "round", "sin", "sinh",
        "sqrt", "tan", "tanh", "trunc",
    )
    for suffix in ("", "f")
)

_lock = threading.RLock()
_modules: dict[str, _KernelModule] = {}


def cache_folder() -> Path:
    """The folder of the native-kernel cache (it may not exist yet).

    ``OPENAU_NATIVE_KERNELS`` may name another folder (or be ``0`` to turn
    the cache off).
    """
    setting = os.environ.get(_ENV_SWITCH, "").strip()
    if setting and _enabled() and setting.lower() not in ("1", "true", "yes", "on"):
        return Path(setting)
    return cache_root() / _SUBFOLDER


def kernels(module: str) -> _KernelModule:
    """The kernels of a numba module, loaded from the native cache where possible.

    Parameters
    ----------
    module : str
        Dotted name of a module of :data:`KERNEL_MODULES`.

    Returns
    -------
    object
        Its attributes are callables taking the kernels' positional arguments.
    """
    with _lock:
        found = _modules.get(module)
        if found is None:
            found = _modules[module] = _KernelModule(module)
        return found


def _enabled() -> bool:
    return os.environ.get(_ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def _arg_key(value: Any):
    """numba's type of an argument, as a hashable key (None when not handled here)."""
    if isinstance(value, np.ndarray):
        flags = value.flags
        layout = "C" if flags.c_contiguous else ("F" if flags.f_contiguous else "A")
        return (value.dtype.str, value.ndim, layout, flags.writeable, flags.aligned)
    return _SCALARS.get(type(value))


def _type_key(numba_type):
    """The :func:`_arg_key` of arguments numba types as ``numba_type`` (None if unknown)."""
    from numba.core import types
    from numba.np import numpy_support

    if isinstance(numba_type, types.Array):
        dtype = numpy_support.as_dtype(numba_type.dtype).str
        return (dtype, numba_type.ndim, numba_type.layout, numba_type.mutable, numba_type.aligned)
    name = str(numba_type)
    return name if name in _SCALARS.values() else None


def _json_key(key):
    return list(key) if isinstance(key, tuple) else key


def _from_json_key(key):
    return tuple(key) if isinstance(key, list) else key


class _KernelModule:
    """Attribute access to one kernel module's kernels."""

    def __init__(self, module: str):
        self._name = module
        self._kernels: dict[str, _Kernel] = {}

    def __getattr__(self, name: str) -> _Kernel:
        if name.startswith("_") and name.endswith("_"):
            raise AttributeError(name)
        with _lock:
            kernel = self._kernels.get(name)
            if kernel is None:
                kernel = self._kernels[name] = _Kernel(self._name, name)
            return kernel


class _Kernel:
    """One kernel: native entry points by argument types, numba's dispatcher otherwise."""

    def __init__(self, module: str, name: str):
        self.module = module
        self.name = name
        self._native: dict[tuple, Any] | None = None
        self._dispatcher = None
        self._saved: set[tuple] = set()

    def __call__(self, *args):
        native = self._native
        if native is None:
            native = self._load()
        if native:
            function = native.get(tuple(map(_arg_key, args)))
            if function is not None:
                return function(*args)
        return self._through_numba(args)

    def _load(self) -> dict:
        with _lock:
            if self._native is None:
                self._native = _Runtime.get().load(self.module, self.name) if _enabled() else {}
            return self._native

    def _through_numba(self, args):
        dispatcher = self._dispatcher
        if dispatcher is None:
            with _lock:
                _capture_object_code()
                dispatcher = self._dispatcher = getattr(
                    importlib.import_module(self.module), self.name
                )
        result = dispatcher(*args)
        key = tuple(map(_arg_key, args))
        if _enabled() and key not in self._saved and None not in key:
            self._saved.add(key)
            _Runtime.get().save(self.module, self.name, dispatcher, key)
        return result


def _capture_object_code() -> None:
    """Keep the machine code of kernels numba loads from its own cache.

    numba hands a cached kernel's object code to its JIT and drops it; the
    native cache needs it. A kernel numba compiles anew keeps it anyway
    (``serialize_using_object_code``, what numba's cache writes).
    """
    from numba.core import codegen

    library = codegen.CPUCodeLibrary
    if getattr(library, "_openau_captures", False):
        return
    original = library._unserialize.__func__

    def unserialize(cls, codegen_, state):
        result = original(cls, codegen_, state)
        try:
            if state[1] == "object":
                result._openau_object = state[2][0]
        except (IndexError, TypeError, AttributeError):
            pass
        return result

    library._unserialize = classmethod(unserialize)
    library._openau_captures = True


def _object_code(library) -> bytes | None:
    code = getattr(library, "_openau_object", None)
    if code is not None:
        return code
    try:
        return library.serialize_using_object_code()[2][0]
    except Exception:  # noqa: BLE001 - an unsupported numba: no native cache
        return None


class _Runtime:
    """The process's link to numba's C helpers and llvmlite's JIT (created once)."""

    _instance: _Runtime | None = None

    def __init__(self):
        self.folder: Path | None = None
        self.ready = False
        self._environment_type = None
        self._make_function = None
        self._tm = None
        try:
            self._start()
        except Exception:  # noqa: BLE001 - anything unexpected: numba does the work
            self.ready = False

    @classmethod
    def get(cls) -> _Runtime:
        with _lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _start(self) -> None:
        import llvmlite
        import llvmlite.binding as llvm

        numba_spec = importlib.util.find_spec("numba")
        if numba_spec is None or not numba_spec.submodule_search_locations:
            return
        numba_dir = Path(list(numba_spec.submodule_search_locations)[0])
        numba_version = _numba_version(numba_dir)
        helper = _extension("numba._helperlib", numba_dir)
        dynfunc = _extension("numba._dynfunc", numba_dir)
        nrt = _extension("numba.core.runtime._nrt_python", numba_dir / "core" / "runtime")
        # The symbols numba's compiled code links against, as numba registers
        # them (numba.core.base, numba.core.runtime.nrt).
        llvm.add_symbol("_Py_NoneStruct", id(None))
        for helpers in (helper.c_helpers, dynfunc.c_helpers):
            for name, address in helpers.items():
                llvm.add_symbol("numba_" + name, address)
        for name in _C_MATH:
            # Bound to the C runtime Python uses, as numba binds them.
            llvm.add_symbol(name, helper.c_helpers[name])
        for value in vars(builtins).values():
            if isinstance(value, type) and issubclass(value, BaseException):
                llvm.add_symbol(f"PyExc_{value.__name__}", id(value))
        for name, address in nrt.c_helpers.items():
            llvm.add_symbol(name if name.startswith("_") else "NRT_" + name, address)
        # numba's own unpickler of the constants its code boxes (e.g. the
        # ndarray type of a returned array) imports numba; this one does not.
        self._unpickle = _UNPICKLE(_unpickle_constant)
        llvm.add_symbol("numba_unpickle", ctypes.cast(self._unpickle, ctypes.c_void_p).value)
        if "numba" not in sys.modules:
            nrt.memsys_use_cpython_allocator()
        if sys.platform.startswith("linux"):
            # numba loads it for the unwinder its code may call.
            try:
                llvm.load_library_permanently("libgcc_s.so.1")
            except RuntimeError:
                pass
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        self._tm = llvm.Target.from_default_triple().create_target_machine(jit=True)
        self._environment_type = dynfunc.Environment
        self._make_function = dynfunc.make_function
        key = self._build_key(llvm, llvmlite.__version__, numba_version)
        self.folder = cache_folder() / key
        self.ready = True

    @staticmethod
    def _build_key(llvm, llvmlite_version: str, numba_version: str) -> str:
        sha = hashlib.sha256(FORMAT.encode())
        for part in (
            numba_version,
            llvmlite_version,
            sys.version,
            llvm.get_process_triple(),
            llvm.get_host_cpu_name(),
            llvm.get_host_cpu_features().flatten(),
        ):
            sha.update(part.encode() + b"\0")
        package = Path(__file__).parent
        for module in KERNEL_MODULES:
            source = package.joinpath(*module.split(".")[1:]).with_suffix(".py")
            sha.update(module.encode() + b"\0" + source.read_bytes())
        return sha.hexdigest()[:32]

    def load(self, module: str, name: str) -> dict:
        """The native entry points cached for one kernel, by argument-type key."""
        if not self.ready:
            return {}
        found = {}
        folder = self.folder / f"{module}.{name}"
        try:
            entries = sorted(folder.glob("*.json"))
        except OSError:
            return {}
        for meta_path in entries:
            try:
                key, function = self._link(meta_path)
            except Exception:  # noqa: BLE001 - a bad entry is skipped (numba recompiles)
                continue
            found[key] = function
        return found

    def _link(self, meta_path: Path):
        import llvmlite.binding as llvm

        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        code = meta_path.with_suffix(".o").read_bytes()
        if hashlib.sha256(code).hexdigest() != meta["sha256"]:
            raise ValueError(f"{meta_path}: object code does not match its checksum")
        engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), self._tm)
        engine.add_object_file(llvm.ObjectFileRef.from_data(code))
        engine.finalize_object()
        address = engine.get_function_address(meta["wrapper"])
        env_address = engine.get_global_value_address(meta["environment"])
        if not address or not env_address:
            raise ValueError(f"{meta_path}: entry point not found")
        environment = self._environment_type({})
        environment.consts[:] = pickle.loads(base64.b64decode(meta["consts"]))
        (ctypes.c_void_p * 1).from_address(env_address)[0] = id(environment)
        # The function holds the environment, and keeps the engine (its code) alive.
        function = self._make_function(
            _host_module(), meta["name"], "native kernel", address, environment, (engine,)
        )
        return tuple(_from_json_key(k) for k in meta["signature"]), function

    def save(self, module: str, name: str, dispatcher, key: tuple) -> None:
        """Write the dispatcher's code for arguments of type ``key`` to the cache (best effort)."""
        if not self.ready:
            return
        try:
            for signature, result in list(dispatcher.overloads.items()):
                if tuple(_type_key(t) for t in signature) == key:
                    self._write(self.folder / f"{module}.{name}", name, dispatcher, signature, result)
                    return
        except Exception:  # noqa: BLE001 - a cache that cannot be written is skipped
            return

    @staticmethod
    def _write(folder: Path, name: str, dispatcher, signature, result) -> None:
        code = _object_code(result.library)
        if code is None:
            # Loaded from numba's cache before its machine code could be kept:
            # load it once more, keeping it this time.
            cache = getattr(dispatcher, "_cache", None)
            reloaded = cache.load_overload(signature, dispatcher.targetctx) if cache else None
            if reloaded is None:
                return
            result = reloaded
            code = _object_code(result.library)
            if code is None:
                return
        # The constants the entry point reads at run time (e.g. the dtype of
        # an array it returns).
        consts = pickle.dumps(list(result.environment.consts), protocol=4)
        meta = {
            "name": name,
            "wrapper": result.fndesc.llvm_cpython_wrapper_name,
            "environment": result.fndesc.env_name,
            "signature": [_json_key(_type_key(t)) for t in signature],
            "sha256": hashlib.sha256(code).hexdigest(),
            "consts": base64.b64encode(consts).decode("ascii"),
        }
        stem = hashlib.sha256(json.dumps(meta["signature"]).encode()).hexdigest()[:24]
        folder.mkdir(parents=True, exist_ok=True)
        # The description last: an entry is listed only once its code is there.
        if write_atomic(folder / f"{stem}.o", code):
            write_atomic(folder / f"{stem}.json", json.dumps(meta).encode())


_UNPICKLE = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)
_constants: dict[tuple[int, int], Any] = {}


def _unpickle_constant(data: int, size: int, _digest: int):
    """``numba_unpickle``: a constant pickled into the machine code, by address."""
    key = (data, size)
    value = _constants.get(key)
    if value is None:
        value = _constants[key] = pickle.loads(ctypes.string_at(data, size))
    return value


def _host_module():
    return sys.modules[__name__]


def _numba_version(numba_dir: Path) -> str:
    """What identifies the installed numba, without importing it.

    Its version module's text (``importlib.metadata`` would scan every
    installed distribution, tens of milliseconds).
    """
    try:
        return (numba_dir / "_version.py").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return str(numba_dir)


def _extension(name: str, folder: Path):
    """Load one of numba's C extension modules without importing the numba package."""
    if name in sys.modules:
        return sys.modules[name]
    stem = name.rsplit(".", 1)[-1]
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            loader = importlib.machinery.ExtensionFileLoader(name, str(path))
            spec = importlib.util.spec_from_file_location(name, path, loader=loader)
            module = importlib.util.module_from_spec(spec)
            loader.exec_module(module)
            return module
    raise FileNotFoundError(f"numba extension {name} not found in {folder}")
