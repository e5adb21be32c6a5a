"""``imuwalk.datasets.fetch`` really downloads, verifies and caches a dataset (no internet needed).

The files of one small real dataset (gaitmap example: 3 files, ~1.8 MB) are copied into a temporary
folder served by a local HTTP server on 127.0.0.1; the manifest URLs are pointed at that server,
``IMUWALK_DATA`` at an empty folder (so no local copy exists) and ``IMUWALK_CACHE`` into ``tmp_path``.
The real pooch download path then proves that:

* fetch() downloads every file into the user cache, each with the manifest sha256, and ``load`` on the
  fetched copy gives exactly the same recordings as on the original data folder;
* a second fetch() makes no request; a cached file that was damaged is downloaded again;
* a served file whose bytes were altered makes fetch() raise ValueError naming the hash, leaves no
  copy of that file (nor temporary file) in the cache, and the dataset stays "not found" until a good
  download completes it.
"""

from __future__ import annotations

import copy
import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import numpy as np
import pytest

from imuwalk import datasets as D
from imuwalk.datasets._loaders import _sha256
from tests.conftest import require_data

NAME = "gaitmap"


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Serve a tmp copy of the dataset's files over HTTP and point fetch()/load() at it and at tmp folders."""
    real_root = require_data()  # before IMUWALK_DATA is changed below
    entry = D.manifest(NAME)
    src = require_data(entry["local_dir"])
    files = [f for f in entry["files"] if f.get("url")]
    assert files, f"{NAME}: no file with a url in the manifest"

    www = tmp_path / "www"
    for f in files:
        (www / f["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / f["path"], www / f["path"])  # copyfile: writable copy (source may be read-only)

    requests: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (stdlib name)
            requests.append(self.path)
            super().do_GET()

        def do_HEAD(self):  # noqa: N802 (stdlib name)
            requests.append("HEAD " + self.path)
            super().do_HEAD()

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    local_entry = copy.deepcopy(D._entry(NAME))
    for f in local_entry["files"]:
        if f.get("url"):
            f["url"] = f"{base}/{quote(f['path'])}"
    real_entry = D._entry
    monkeypatch.setattr(D, "_entry", lambda n: local_entry if n == NAME else real_entry(n))

    (tmp_path / "no_data").mkdir()
    monkeypatch.setenv("IMUWALK_DATA", str(tmp_path / "no_data"))
    monkeypatch.setenv("IMUWALK_CACHE", str(tmp_path / "cache"))
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")

    s = SimpleNamespace(  # what the tests need: served folder, paths requested so far, entry, folders
        base=base, folder=www, requests=requests, entry=local_entry, files=files, real_root=real_root,
        cache=tmp_path / "cache",
    )
    try:
        yield s
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.realdata
def test_fetch_downloads_verifies_and_caches(served):
    with pytest.raises(FileNotFoundError):  # nothing local, nothing cached yet
        D.dataset_dir(NAME)

    dest = D.fetch(NAME)

    assert dest.is_relative_to(served.cache), dest
    assert dest.name == served.entry["local_dir"]
    assert sorted(served.requests) == sorted("/" + quote(f["path"]) for f in served.files)
    for f in served.files:
        p = dest / f["path"]
        assert p.is_file(), p
        assert p.stat().st_size == f["size"], p
        assert _sha256(p) == f["sha256"], p
    assert sorted(p.name for p in dest.iterdir()) == sorted(Path(f["path"]).name for f in served.files)

    # The fetched copy loads exactly like the original folder; without root, load() finds the cache.
    want = D.load(NAME, root=served.real_root)
    got = D.load(NAME, root=dest.parent)
    assert D.dataset_dir(NAME) == dest
    assert [r.name for r in D.load(NAME)] == [r.name for r in want]
    assert len(got) == len(want) > 0
    for g, w in zip(got, want, strict=True):
        assert (g.name, g.placement, g.side, g.region) == (w.name, w.placement, w.side, w.region)
        for attr in ("t", "acc", "gyr", "ic", "fc"):
            np.testing.assert_array_equal(getattr(g, attr), getattr(w, attr), err_msg=f"{g.name}.{attr}")

    # Second fetch: same folder, no request (pooch checks the cached hashes).
    n = len(served.requests)
    assert D.fetch(NAME) == dest
    assert len(served.requests) == n

    # A damaged cached file is noticed (hash) and downloaded again, alone.
    victim = served.files[-1]
    (dest / victim["path"]).write_bytes(b"damaged")
    assert D.fetch(NAME) == dest
    assert served.requests[n:] == ["/" + quote(victim["path"])]
    assert _sha256(dest / victim["path"]) == victim["sha256"]


@pytest.mark.realdata
def test_fetch_rejects_altered_file(served):
    bad = served.files[-1]  # the others are downloaded (and verified) before it
    good_bytes = (served.folder / bad["path"]).read_bytes()
    altered = bytearray(good_bytes)
    altered[len(altered) // 2] ^= 0x01  # same size, one bit different
    (served.folder / bad["path"]).write_bytes(bytes(altered))

    with pytest.raises(ValueError, match=r"(?i)hash"):
        D.fetch(NAME)

    dest = served.cache / "data" / served.entry["local_dir"]
    assert not (dest / bad["path"]).exists()
    # Only the files that passed their hash are left: no altered copy, no temporary download.
    left = sorted(p.name for p in dest.rglob("*") if p.is_file())
    assert left == sorted(Path(f["path"]).name for f in served.files if f is not bad)
    for f in served.files:
        if f is not bad:
            assert _sha256(dest / f["path"]) == f["sha256"]
    with pytest.raises(FileNotFoundError):
        D.dataset_dir(NAME)
    with pytest.raises(FileNotFoundError):
        D.load(NAME)

    # Once the server has the right bytes again, fetch completes by downloading only the missing file.
    (served.folder / bad["path"]).write_bytes(good_bytes)
    n = len(served.requests)
    assert D.fetch(NAME) == dest
    assert served.requests[n:] == ["/" + quote(bad["path"])]
    assert all(_sha256(dest / f["path"]) == f["sha256"] for f in served.files)
    assert D.dataset_dir(NAME) == dest
