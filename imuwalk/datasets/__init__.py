"""Public gait datasets in one common form (:class:`GaitRecording`), described by ``manifest.json``.

>>> from imuwalk import datasets
>>> recs = datasets.load("ipol")          # from $IMUWALK_DATA (or ../shared/datasets)
>>> recs[0].t, recs[0].acc, recs[0].gyr, recs[0].ic, recs[0].region

The data are third-party files (licences in the manifest and ``datasets/README.md``); they are never
shipped with imuwalk. ``fetch(name)`` downloads them with pooch into the user cache when no local copy
exists.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from imuwalk._optional import require
from imuwalk._paths import data_root
from imuwalk.datasets._recording import GaitRecording

__all__ = ["GaitRecording", "list_datasets", "load", "fetch", "manifest", "dataset_dir"]

_MANIFEST = Path(__file__).with_name("manifest.json")


@lru_cache(maxsize=1)
def _manifest() -> dict:
    return json.loads(_MANIFEST.read_text(encoding="utf-8"))


def manifest(name: str | None = None) -> dict:
    """The whole manifest (dict name -> entry), or one dataset's entry (a copy)."""
    m = _manifest()
    if name is None:
        return json.loads(json.dumps(m))
    return json.loads(json.dumps(_entry(name)))


def list_datasets() -> list[str]:
    """Names of the datasets in the manifest."""
    return list(_manifest())


def _entry(name: str) -> dict:
    if not isinstance(name, str):
        raise ValueError(f"name: expected a dataset name (str), got {type(name).__name__}")
    m = _manifest()
    if name not in m:
        raise ValueError(f"name: unknown dataset {name!r}; known: {', '.join(m)}")
    return m[name]


def _complete(folder: Path, entry: dict) -> bool:
    """``folder`` holds the dataset: every manifest file, or (entries with a ``discover`` glob, whose loaders
    find recordings by themselves) at least one file matching it, e.g. further subjects instead of ours."""
    if not folder.is_dir():
        return False
    if all((folder / f["path"]).exists() for f in entry["files"] if f.get("url")):
        return True
    pattern = entry.get("discover")
    return bool(pattern) and next(iter(folder.glob(pattern)), None) is not None


def _cache_root() -> Path:
    from imuwalk.datasets._loaders import cache_dir

    return cache_dir() / "data"


def dataset_dir(name: str, root: str | Path | None = None) -> Path:
    """Folder holding dataset ``name``: ``root/<local_dir>`` when ``root`` is given, else the local copy
    under :func:`imuwalk._paths.data_root` (``$IMUWALK_DATA``), else a previous :func:`fetch` in the user
    cache. Raises FileNotFoundError (naming IMUWALK_DATA) when none has the files."""
    entry = _entry(name)
    sub = entry["local_dir"]
    if root is not None:
        candidates = [Path(root).expanduser() / sub]
    else:
        candidates = [data_root() / sub, _cache_root() / sub]
    for c in candidates:
        if _complete(c, entry):
            return c
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"dataset {name!r} not found (looked in: {tried}). Set IMUWALK_DATA to the folder holding "
        f"{sub}/ or call imuwalk.datasets.fetch({name!r}) to download it."
    )


def load(name: str, root: str | Path | None = None, *, strict: bool = False) -> list[GaitRecording]:
    """All recordings of manifest dataset ``name`` in the common form (t s, acc m/s², gyr rad/s).

    ``root``: folder containing the dataset folders (default: ``$IMUWALK_DATA`` / ``data_root()``, then
    the fetch cache). Raises ValueError for an unknown name, FileNotFoundError when the files are missing.
    A bad file among several (a further IPOL trial, Marpino walk or UCI recording whose data or annotations
    are broken) is skipped with a warning naming the file and the problem, so one odd file does not stop the
    evaluation of the rest; ``strict=True`` raises its ValueError instead. ValueError also when no recording
    loads at all.
    """
    from imuwalk.datasets._loaders import LOADERS

    entry = {**_entry(name), "strict": bool(strict), "skipped": []}
    folder = dataset_dir(name, root)
    recs = LOADERS[name](folder, entry)
    if not recs and entry["skipped"]:
        raise entry["skipped"][0]
    return recs


def fetch(name: str) -> Path:
    """Path of dataset ``name``'s folder; downloads it with pooch into ``<user cache>/data`` (``$IMUWALK_CACHE``,
    else ``pooch.os_cache("imuwalk")``), sha256-checked, unless a complete local copy exists under ``data_root()``
    (a local copy is trusted as it is; cached downloads are re-hashed on every call).

    Files without a public URL (e.g. our own segment tables) are written from the manifest when possible.
    Needs the optional dependency ``pooch`` (``pip install imuwalk[data]``) only when downloading.

    Raises ConnectionError (an OSError) naming the dataset, the URL and ``IMUWALK_DATA`` when a download
    fails (no network, server error); ValueError when a downloaded file fails its sha256 check. Files
    verified before the failure stay cached; no empty folder is left behind.
    """
    entry = _entry(name)
    local = data_root() / entry["local_dir"]
    if _complete(local, entry):
        return local
    pooch = require("pooch", "fetch()")
    dest = _cache_root() / entry["local_dir"]
    created = [d for d in (dest, *dest.parents) if not d.exists()]  # removed again when left empty
    try:
        _fetch_files(name, entry, dest, pooch)
    except BaseException:
        _remove_empty_dirs(dest, created)
        raise
    return dest


def _fetch_files(name: str, entry: dict, dest: Path, pooch) -> None:
    for f in entry["files"]:
        target = dest / f["path"]
        if f.get("url"):
            try:
                pooch.retrieve(url=f["url"], known_hash=f"sha256:{f['sha256']}", fname=target.name,
                               path=target.parent, progressbar=False)
            except OSError as exc:  # requests' errors are OSErrors; a hash mismatch is a ValueError
                raise ConnectionError(
                    f"dataset {name!r}: could not download {f['url']} ({type(exc).__name__}: "
                    f"{_first_line(exc)}). Check the network connection, or set IMUWALK_DATA to a folder "
                    f"holding a local copy in {entry['local_dir']}/ (see imuwalk.datasets.dataset_dir)."
                ) from None
        elif name == "uci_backward" and f["path"].endswith("_segments.csv"):
            key = f["path"][: -len("_segments.csv")]
            rows = entry.get("segments", {}).get(key)
            if rows is not None and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                body = "start_s,end_s,label\n" + "".join(f"{a:.3f},{b:.3f},{lab}\n" for a, b, lab in rows)
                target.write_text(body)


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _remove_empty_dirs(dest: Path, created: list[Path]) -> None:
    """After a failed fetch: remove empty folders under ``dest`` and the ones in ``created`` (made by this
    fetch, deepest first) that are empty now. Never removes a file."""
    if dest.is_dir():
        for d in sorted((p for p in dest.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            try:
                d.rmdir()
            except OSError:
                pass
    for d in created:
        try:
            d.rmdir()
        except OSError:
            break
