"""MNIST as four IDX files, read into tensors that live on the training device.

The whole data set is small (60,000 + 10,000 images of 28x28 bytes, 55 MB), so it is held as one uint8
tensor on the device; batches are slices of it and augmentation runs on whole batches there. No
DataLoader, no worker processes, no per-image Python.

IDX layout (http://yann.lecun.com/exdb/mnist/): a big-endian header, then the raw bytes.
    magic (int32: 0x00000803 = 2051 for images, 0x00000801 = 2049 for labels), one int32 per dimension,
    then prod(dims) unsigned bytes.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import math
import os
import struct
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_DATA_DIR = Path("data") / "mnist"

IMAGES_MAGIC = 2051  # 0x0803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x0801: unsigned bytes, 1 dimension

# The four standard files (stored as NAME.gz or as NAME), in the order train images, train labels, test
# images, test labels.
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# MD5 of each file's decompressed content. A .gz is judged by what it decompresses to, so a file that was
# re-compressed (different .gz bytes, same content) is accepted.
CANONICAL_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# Pixel statistics of the training set (on the 0..1 scale), the usual MNIST normalisation.
MEAN, STD = 0.1307, 0.3081


class DatasetError(ValueError):
    """A data file is missing, corrupt or truncated. The message is one line, meant for a person."""


class DatasetMissing(DatasetError):
    """Some of the four files are absent and could not be downloaded."""


# ---------------------------------------------------------------------------------------------------------
# Where the files are


def resolve_data_dir(arg: str | os.PathLike | None = None) -> Path:
    """--data-dir if given, else $MNIST_DIR, else ./data/mnist."""
    if arg:
        return Path(arg).expanduser()
    if os.environ.get("MNIST_DIR"):
        return Path(os.environ["MNIST_DIR"]).expanduser()
    return DEFAULT_DATA_DIR


def find_file(data_dir: Path, name: str) -> Path | None:
    """NAME.gz or NAME inside data_dir (the .gz wins when both exist), or None."""
    for candidate in (Path(data_dir) / f"{name}.gz", Path(data_dir) / name):
        if candidate.is_file():
            return candidate
    return None


def missing_files(data_dir: str | os.PathLike) -> list[str]:
    """The standard names (without .gz) of the files that are in neither form in data_dir."""
    return [name for name in FILES if find_file(Path(data_dir), name) is None]


def missing_message(data_dir: Path, missing: Sequence[str]) -> str:
    """One line telling a person where to put which files."""
    return (
        f"MNIST files missing in {data_dir}: {', '.join(missing)} (each as .gz or uncompressed). "
        f"Put the four files {', '.join(FILES)} there, or set --data-dir / MNIST_DIR to the folder "
        f"that holds them."
    )


# ---------------------------------------------------------------------------------------------------------
# Reading IDX files


def parse_idx(raw: bytes, expected_magic: int, source: str = "IDX data") -> np.ndarray:
    """The array stored in one decompressed IDX file, after checking its header against its length."""
    if len(raw) < 4:
        raise DatasetError(f"{source}: truncated, {len(raw)} bytes is shorter than the 4-byte IDX header")
    (magic,) = struct.unpack(">i", raw[:4])
    if magic != expected_magic:
        raise DatasetError(f"{source}: magic number {magic}, expected {expected_magic}; not an MNIST file")
    ndim = magic & 0xFF  # the low byte counts the dimensions
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{source}: truncated inside the header ({len(raw)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}i", raw[4:header])
    expected = header + math.prod(dims)
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "has trailing bytes"
        raise DatasetError(
            f"{source}: {problem}: header says {'x'.join(map(str, dims))} needing {expected} bytes, "
            f"file has {len(raw)}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def decompress(blob: bytes, source: str) -> bytes:
    """gunzip when the bytes start with the gzip signature; otherwise they are already raw."""
    if blob[:2] != b"\x1f\x8b":
        return blob
    try:
        return gzip.decompress(blob)
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{source}: corrupt or truncated gzip data ({error})") from None


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    return parse_idx(decompress(Path(path).read_bytes(), str(path)), expected_magic, str(path))


@dataclass
class Mnist:
    """The four arrays, uint8: images (N, 28, 28), labels (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def check_pair(images: np.ndarray, labels: np.ndarray, split: str) -> None:
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DatasetError(f"{split} images have shape {images.shape}, expected (N, 28, 28)")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DatasetError(f"{split}: {len(images)} images but {len(labels)} labels")
    if len(labels) and labels.max() > 9:
        raise DatasetError(f"{split} labels contain {labels.max()}, expected digits 0..9")


def load_mnist(data_dir: str | os.PathLike, download: bool = True) -> Mnist:
    """Read the four files from data_dir, downloading the missing ones first when allowed."""
    data_dir = Path(data_dir)
    if data_dir.exists() and not data_dir.is_dir():  # else "files missing in <a file>", or a download to it
        raise DatasetMissing(
            f"{data_dir} is a file, not a folder: set --data-dir / MNIST_DIR to the folder with the MNIST files"
        )
    if missing_files(data_dir) and download:
        download_missing(data_dir)
    missing = missing_files(data_dir)
    if missing:
        raise DatasetMissing(missing_message(data_dir, missing))
    magics = (IMAGES_MAGIC, LABELS_MAGIC, IMAGES_MAGIC, LABELS_MAGIC)
    arrays = [read_idx(find_file(data_dir, name), magic) for name, magic in zip(FILES, magics, strict=True)]
    mnist = Mnist(*arrays)
    check_pair(mnist.train_images, mnist.train_labels, "train")
    check_pair(mnist.test_images, mnist.test_labels, "test")
    return mnist


# ---------------------------------------------------------------------------------------------------------
# Downloading


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def download_missing(
    data_dir: Path,
    mirrors: Sequence[str] = MIRRORS,
    opener: Callable = urllib.request.urlopen,
    checksums: dict[str, str] = CANONICAL_MD5,
    timeout: float = 30.0,
) -> list[str]:
    """Fetch each missing NAME.gz from the first mirror that serves bytes whose decompressed MD5 matches.

    Returns the names written. Raises DatasetMissing (one line, naming every mirror's failure) when a file
    cannot be had. `opener` is urllib's urlopen by default; tests pass their own or use file:// mirrors.
    """
    written = []
    for name in missing_files(data_dir):
        failures = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + f"/{name}.gz"
            try:
                with opener(url, timeout=timeout) as response:
                    blob = response.read()
                content = decompress(blob, url)
            except (OSError, ValueError, http.client.HTTPException) as error:  # URLError: OSError
                failures.append(f"{url}: {getattr(error, 'reason', error)}")
                continue
            if md5(content) != checksums[name]:
                failures.append(f"{url}: checksum mismatch (MD5 {md5(content)}, expected {checksums[name]})")
                continue
            save(Path(data_dir), name, blob)
            written.append(name)
            break
        else:
            still_missing = missing_files(data_dir)
            raise DatasetMissing(
                f"{missing_message(Path(data_dir), still_missing)} Download failed: {'; '.join(failures)}"
            )
    return written


def save(data_dir: Path, name: str, blob: bytes) -> None:
    """Store a verified download as data_dir/NAME.gz, written beside it and renamed: never half a file under
    the real name. DatasetMissing (one line) when data_dir cannot hold it: a file, read-only, disk full."""
    partial = data_dir / f"{name}.gz.part"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(blob if blob[:2] == b"\x1f\x8b" else gzip.compress(blob))
        partial.replace(data_dir / f"{name}.gz")
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise DatasetMissing(
            f"downloaded {name}.gz but cannot save it in {data_dir}: {error.strerror or error}. "
            f"Set --data-dir / MNIST_DIR to a folder you can write to."
        ) from None


# ---------------------------------------------------------------------------------------------------------
# On the device: batches and augmentation


def to_device(images: np.ndarray, labels: np.ndarray, device: torch.device, limit: int | None = None):
    """uint8 images (N, 1, 28, 28) and int64 labels (N,) on the device; only the first `limit` if given."""
    images, labels = images[:limit], labels[:limit]
    x = torch.from_numpy(images.copy()).unsqueeze(1).to(device)  # copy: frombuffer arrays are read-only
    y = torch.from_numpy(labels.astype(np.int64)).to(device)
    return x, y


def normalize(batch: torch.Tensor) -> torch.Tensor:
    """uint8 or 0..1 float (B, 1, 28, 28) -> float, zero mean and unit variance over the training set."""
    if batch.dtype == torch.uint8:
        batch = batch.float().div_(255)
    return (batch - MEAN) / STD


def batches(
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Slices of (images, labels); shuffled once per call when a generator is given. The last may be short."""
    n = len(images)
    if generator is None:
        for start in range(0, n, batch_size):
            yield images[start : start + batch_size], labels[start : start + batch_size]
        return
    order = torch.randperm(n, generator=generator, device=generator.device).to(images.device)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        yield images[index], labels[index]


def augment(
    batch: torch.Tensor, generator: torch.Generator, max_shift: float = 2.0, max_degrees: float = 7.0
) -> torch.Tensor:
    """Each image of a (B, 1, H, W) batch in 0..1 floats, moved by its own random shift and rotation.

    One affine grid for the whole batch: theta (B, 2, 3) rotates by ±max_degrees and shifts by ±max_shift
    pixels. affine_grid works in coordinates where the image spans -1..1, so a shift of s pixels is 2s/W.
    Outside the image is filled with 0, the background of unnormalised MNIST.
    """
    b, _, h, w = batch.shape
    uniform = torch.rand(b, 3, generator=generator, device=generator.device).to(batch.device) * 2 - 1
    angle = uniform[:, 0] * math.radians(max_degrees)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [
            torch.stack([cos, -sin, uniform[:, 1] * 2 * max_shift / w], dim=1),
            torch.stack([sin, cos, uniform[:, 2] * 2 * max_shift / h], dim=1),
        ],
        dim=1,
    )  # (B, 2, 3)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
