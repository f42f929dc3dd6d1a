"""llama.cpp embedded in this process: starting it on a GGUF file, and the saved prefix slot.

xllamacpp embeds llama.cpp's own server. It also listens on a random loopback port: llama.cpp
offers no way to turn that off, so every endpoint but /health is locked with a random key that
never leaves this process, and no other local user can reach the model. The slot requests go
through it.

Across processes, the prefix slot keeps the first answer's tokens (system prompt included) in
a file through llama.cpp's slot save/restore: the next `tutor explain` restores it and reads
only what differs, instead of the whole professor prompt before its first word. llama.cpp
compares the tokens, so a changed prompt only shortens the part reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import urllib.request
from pathlib import Path

from tutor.errors import ModelError

BATCH = 64  # prompt tokens per step: a cancel waits at most one batch (about 0.5 s for 1.5B on 2 cores)


def start_server(
    path: Path, *, device: str, threads: int, context: int, parallel: int, key: str, prefix_cache: Path | None
):
    """An `xllamacpp.Server` on the GGUF at `path`, its loopback listener locked with `key`.

    Raises:
        ModelError: the file is not a usable GGUF, or CUDA was asked for without a CUDA build.
    """
    from tutor.models.gguf_check import check_gguf, explain_load_failure

    check_gguf(path)
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = context * parallel  # the slots split the context between them
    params.n_parallel = parallel
    params.n_batch = params.n_ubatch = BATCH
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.n_gpu_layers = _gpu_layers(device, xllamacpp)
    params.port = 0  # a free loopback port: the listener cannot be switched off
    params.api_keys = [key]
    if prefix_cache is not None:
        params.slot_save_path = f"{prefix_cache}{os.sep}"  # llama.cpp appends the file name as is
    params.verbosity = -1
    params.warmup = False  # a warm-up pass costs a second of start time and buys nothing here
    handlers = _signal_handlers()
    try:
        server = xllamacpp.Server(params)
    except Exception:  # noqa: BLE001 - llama.cpp only says "failed to init"
        raise ModelError(explain_load_failure(path)) from None
    finally:
        _restore_signal_handlers(handlers)  # llama.cpp installs its own SIGINT/SIGTERM handlers
    return server


class PrefixSlot:
    """Slot 0 saved to, and restored from, a file in `folder` named for this model and context.

    Only a speed-up: any failure leaves the slot as it was and the answer reads its prompt.
    """

    def __init__(self, folder: Path, *, model_path: Path, context: int) -> None:
        self.folder = folder
        self.model_path = model_path
        self.context = context

    def file_name(self) -> str:
        """The saved slot's name: this model file, this context, this llama.cpp."""
        import xllamacpp

        stat = self.model_path.stat()
        identity = f"{self.model_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{self.context}:{xllamacpp.__version__}"
        return hashlib.sha256(identity.encode()).hexdigest()[:20] + ".slot"

    def save(self, server, key: str) -> bool:
        return self._request(server, key, "save")

    def restore(self, server, key: str) -> bool:
        return self._request(server, key, "restore")

    def _request(self, server, key: str, action: str) -> bool:
        """Save or restore slot 0 through the locked loopback listener; True when it worked."""
        if server is None:  # closed meanwhile
            return False
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = self.file_name()
            if action == "restore" and not (self.folder / name).is_file():
                return False
            # llama.cpp writes in place: save under a name of our own and rename, so another
            # tutor restoring at that moment reads the old file or the new one, never a mix.
            written = f".{name}.{os.getpid()}.tmp" if action == "save" else name
            request = urllib.request.Request(
                f"{server.listening_address}/slots/0?action={action}",
                data=json.dumps({"filename": written}).encode(),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                done = response.status == 200
            if action == "save" and done:
                os.replace(self.folder / written, self.folder / name)
            return done
        except (OSError, ValueError):
            return False


def default_threads() -> int:
    """Threads for llama.cpp: the cores not already busy, at least 1 and at most 4.

    llama.cpp's threads spin at a barrier after every step, so one that loses its core to
    another process stalls the rest: on the shared 2-core machine, 2 decode threads gave 6-36
    tok/s under a load of 3 where 1 thread gave a steady 23 (1.5B model, BENCHMARKS.md "llama.cpp
    threads"); on a quiet machine 2 threads gave 32-35. Beyond 4 a batch-1 step gains little.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    busy = round(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(4, cores - busy))


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ModelError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def _gpu_layers(device: str, xllamacpp) -> int:
    has_gpu = any(
        d["type"] != xllamacpp.ggml_backend_dev_type.GGML_BACKEND_DEVICE_TYPE_CPU for d in xllamacpp.get_device_info()
    )
    if device == "cuda" and not has_gpu:
        raise ModelError(
            "--device cuda was given, but this llama.cpp build has no GPU backend: install a CUDA "
            "build of xllamacpp, or use --device cpu."
        )
    return 999 if has_gpu and device != "cpu" else 0


def _signal_handlers() -> dict:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(handlers: dict) -> None:
    for sig, handler in handlers.items():
        if handler is not None:
            signal.signal(sig, handler)
