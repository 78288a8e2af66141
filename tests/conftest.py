import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Content hashes (engine/fingerprint.py) are cached here, not in the user's cache folder.
os.environ.setdefault("STEERDESK_CACHE", tempfile.mkdtemp(prefix="steerdesk-test-cache-"))
sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402
from threads import torch_threads  # noqa: E402


@pytest.fixture(autouse=True)
def one_torch_thread(request):
    """Tiny models run several times faster on one thread than spread over the cores of a
    shared machine (thread hand-offs cost more than the maths). Benchmarks keep torch's own
    setting. The count is put back after each test."""
    if request.node.get_closest_marker("benchmark"):
        yield
        return
    with torch_threads(1):
        yield
