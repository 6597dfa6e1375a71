"""The IDX reader, the downloader and the on-device batches, on files written here byte by byte."""

import gzip
import hashlib
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from training import data

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An IDX file as the format describes it: big-endian magic, one big-endian int32 per dimension, bytes."""
    return (
        struct.pack(">i", magic)
        + struct.pack(f">{array.ndim}i", *array.shape)
        + array.astype(np.uint8).tobytes()
    )


def tiny_mnist(n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    )


def write_dataset(folder: Path, arrays, compress=(True, False, True, False)):
    folder.mkdir(parents=True, exist_ok=True)
    magics = (2051, 2049, 2051, 2049)
    for name, array, magic, gz in zip(data.FILES, arrays, magics, compress, strict=True):
        raw = idx_bytes(array, magic)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)


def test_reads_generated_files_gz_and_raw(tmp_path):
    arrays = tiny_mnist()
    write_dataset(tmp_path, arrays)
    mnist = data.load_mnist(tmp_path, download=False)
    for got, want in zip(
        (mnist.train_images, mnist.train_labels, mnist.test_images, mnist.test_labels), arrays, strict=True
    ):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda raw: raw[:-1], "truncated"),
        (lambda raw: raw[:10], "truncated inside the header"),
        (lambda raw: raw[:2], "truncated"),
        (lambda raw: raw + b"\0", "trailing bytes"),
        (lambda raw: struct.pack(">i", 2049) + raw[4:], "magic number 2049, expected 2051"),
    ],
    ids=["one-byte-short", "short-header", "no-header", "trailing", "labels-magic"],
)
def test_corrupt_image_file_is_named_in_a_clear_error(tmp_path, mangle, message):
    arrays = tiny_mnist()
    write_dataset(tmp_path, arrays, compress=(False,) * 4)
    path = tmp_path / data.FILES[0]
    path.write_bytes(mangle(path.read_bytes()))
    with pytest.raises(data.DatasetError, match=message) as caught:
        data.load_mnist(tmp_path, download=False)
    assert data.FILES[0] in str(caught.value)
    assert "\n" not in str(caught.value)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    write_dataset(tmp_path, tiny_mnist())
    path = tmp_path / f"{data.FILES[0]}.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(data.DatasetError, match="corrupt or truncated gzip"):
        data.load_mnist(tmp_path, download=False)


def test_labels_must_match_images(tmp_path):
    train_images, train_labels, test_images, test_labels = tiny_mnist()
    write_dataset(tmp_path, (train_images, train_labels[:-1], test_images, test_labels))
    with pytest.raises(data.DatasetError, match="12 images but 11 labels"):
        data.load_mnist(tmp_path, download=False)


def test_missing_files_are_listed_with_the_folder(tmp_path):
    write_dataset(tmp_path, tiny_mnist())
    (tmp_path / f"{data.FILES[2]}.gz").unlink()
    assert data.missing_files(tmp_path) == [data.FILES[2]]
    assert data.missing_files(tmp_path / "nowhere") == list(data.FILES)
    with pytest.raises(data.DatasetMissing) as caught:
        data.load_mnist(tmp_path, download=False)
    message = str(caught.value)
    assert str(tmp_path) in message and all(name in message for name in data.FILES) and "MNIST_DIR" in message


def test_data_dir_argument_then_environment_then_default(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "env"))
    assert data.resolve_data_dir(str(tmp_path / "arg")) == tmp_path / "arg"
    assert data.resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("MNIST_DIR")
    assert data.resolve_data_dir("") == Path("data/mnist")


# --- downloading ------------------------------------------------------------------------------------------


def serve(folder: Path, arrays, gz=True):
    """A mirror folder holding NAME.gz files, and the MD5s of their decompressed content."""
    folder.mkdir()
    checksums = {}
    for name, array, magic in zip(data.FILES, arrays, (2051, 2049, 2051, 2049), strict=True):
        raw = idx_bytes(array, magic)
        checksums[name] = hashlib.md5(raw).hexdigest()
        (folder / f"{name}.gz").write_bytes(gzip.compress(raw) if gz else raw)
    return checksums


def test_download_from_a_file_url_mirror(tmp_path):
    arrays = tiny_mnist()
    checksums = serve(tmp_path / "mirror", arrays)
    target = tmp_path / "data"
    written = data.download_missing(
        target, mirrors=[(tmp_path / "mirror").as_uri() + "/"], checksums=checksums
    )
    assert written == list(data.FILES)
    np.testing.assert_array_equal(data.load_mnist(target, download=False).test_labels, arrays[3])


def test_a_data_dir_that_is_a_file_is_named_as_one(tmp_path):
    target = tmp_path / "mnist.zip"
    target.write_bytes(b"PK")
    for download in (False, True):  # and nothing is fetched for it
        with pytest.raises(data.DatasetMissing, match="is a file, not a folder"):
            data.load_mnist(target, download=download)


def test_a_download_that_cannot_be_saved_is_one_line(tmp_path):
    checksums = serve(tmp_path / "mirror", tiny_mnist())
    target = tmp_path / "not-a-folder"
    target.write_text("a file where the data folder should be")
    with pytest.raises(data.DatasetMissing, match="cannot save it in") as caught:
        data.download_missing(target, mirrors=[(tmp_path / "mirror").as_uri()], checksums=checksums)
    assert str(target) in str(caught.value) and "\n" not in str(caught.value)


def test_download_rejects_content_with_the_wrong_checksum(tmp_path):
    checksums = serve(tmp_path / "mirror", tiny_mnist())
    checksums[data.FILES[1]] = "0" * 32
    target = tmp_path / "data"
    with pytest.raises(data.DatasetMissing, match="checksum mismatch"):
        data.download_missing(target, mirrors=[(tmp_path / "mirror").as_uri()], checksums=checksums)
    assert data.missing_files(target) == list(data.FILES[1:])  # nothing unverified was kept


def test_download_falls_back_to_the_next_mirror(tmp_path):
    arrays = tiny_mnist()
    checksums = {
        name: hashlib.md5(idx_bytes(a, m)).hexdigest()
        for name, a, m in zip(data.FILES, arrays, (2051, 2049, 2051, 2049), strict=True)
    }
    served = {
        f"{name}.gz": gzip.compress(idx_bytes(a, m))
        for name, a, m in zip(data.FILES, arrays, (2051, 2049, 2051, 2049), strict=True)
    }
    asked = []

    class Response:
        def __init__(self, blob):
            self.blob = blob

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return self.blob

    def opener(url, timeout):
        asked.append(url)
        if url.startswith("https://down.example/"):
            raise urllib.error.URLError("Name or service not known")
        return Response(served[url.rsplit("/", 1)[1]])

    data.download_missing(tmp_path, ["https://down.example/", "https://up.example/m"], opener, checksums)
    assert asked[:2] == [
        f"https://down.example/{data.FILES[0]}.gz",
        f"https://up.example/m/{data.FILES[0]}.gz",
    ]
    assert data.missing_files(tmp_path) == []


def test_offline_download_says_where_to_put_the_files(tmp_path):
    def offline(url, timeout):
        raise urllib.error.URLError("Name or service not known")

    with pytest.raises(data.DatasetMissing) as caught:
        data.download_missing(tmp_path, opener=offline)
    message = str(caught.value)
    assert str(tmp_path) in message and "--data-dir" in message and "Name or service not known" in message
    assert "\n" not in message


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs the shared MNIST copy in ../shared/data/mnist")
def test_recompressed_gz_is_accepted_by_its_content_checksum(tmp_path):
    # The shared .gz files were re-compressed: their own MD5s differ from the published ones, their content
    # matches the canonical MD5. Serve them as a mirror for the two small label files.
    for name in data.FILES:
        if "labels" not in name:
            (tmp_path / name).write_bytes(b"")  # present, so only the labels are fetched
    mirror = SHARED.as_uri() + "/"
    assert data.download_missing(tmp_path, mirrors=[mirror]) == [data.FILES[1], data.FILES[3]]
    labels = data.read_idx(tmp_path / f"{data.FILES[3]}.gz", data.LABELS_MAGIC)
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# --- batches and augmentation on the device ----------------------------------------------------------------


def test_shuffled_batches_cover_every_image_once():
    images = torch.arange(50, dtype=torch.uint8).view(50, 1, 1, 1).expand(50, 1, 28, 28)
    labels = torch.arange(50)
    seen = [y for _, y in data.batches(images, labels, 16, torch.Generator().manual_seed(0))]
    assert [len(y) for y in seen] == [16, 16, 16, 2]
    order = torch.cat(seen)
    assert sorted(order.tolist()) == list(range(50)) and order.tolist() != list(range(50))
    for x, y in data.batches(images, labels, 16, torch.Generator().manual_seed(0)):
        assert torch.equal(x[:, 0, 0, 0].long(), y)  # images travel with their labels


def test_augment_without_motion_is_the_identity_and_with_motion_moves_each_image_differently():
    g = torch.Generator().manual_seed(0)
    batch = torch.zeros(64, 1, 28, 28)
    batch[:, :, 10:18, 12:16] = 1.0
    assert torch.allclose(data.augment(batch, g, max_shift=0, max_degrees=0), batch, atol=1e-5)
    moved = data.augment(batch, g, max_shift=2, max_degrees=7)
    rows = torch.arange(28.0).view(1, 28, 1)

    def centre(x):
        return (x[:, 0] * rows).sum((1, 2)) / x[:, 0].sum((1, 2))

    offset = centre(moved) - centre(batch)
    assert offset.abs().max() <= 2.0 + 1e-3 + 4 * np.sin(np.radians(7))  # shift plus what rotation adds
    assert offset.std() > 0.3  # each image got its own shift
    assert torch.allclose(moved.sum((1, 2, 3)), batch.sum((1, 2, 3)), rtol=0.05)  # the digit stays inside
