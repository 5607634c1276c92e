"""pytest finds the weft SDK (its test environment, `weft_testing`) where it
is installed, or else at the path requirements.txt names, so the tests run
before `pip install -r requirements.txt` too."""

import os
import sys
from urllib.parse import unquote

HERE = os.path.dirname(os.path.abspath(__file__))

try:
    import weft_testing  # noqa: F401
except ImportError:
    with open(os.path.join(HERE, "..", "requirements.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            name, _, url = line.partition("@")
            if line.startswith(("./", "../")):
                sys.path.insert(0, os.path.join(HERE, "..", line))
            elif name.strip() == "weft-sdk" and url.strip().startswith("file://"):
                sys.path.insert(0, unquote(url.strip()[len("file://"):]))
