"""Standard modules that the standard library imports lazily, imported here.

A componentize-py guest is a snapshot taken when the component is built: at
run time the host gives it no filesystem, so only modules imported during
the build exist. Your own imports at the top of a module are in the
snapshot; what the standard library imports inside a function the first
time it is called is not. This loads the usual ones at build time:

- ``heapq``: ``collections.Counter.most_common``
- ``_strptime``: ``datetime.strptime``, ``time.strptime``
- ``hashlib``: ``uuid.uuid3``/``uuid5``
- ``encodings.*``: ``str.encode``/``bytes.decode`` with ``idna`` (and
  ``punycode``), ``cp1252``, ``utf-8-sig``, ``unicode_escape``,
  ``raw_unicode_escape``

It also imports the generated bindings the SDK uses inside functions.
"""

import importlib

_LAZY = (
    "heapq",
    "_strptime",
    "hashlib",
    "encodings.idna",
    "encodings.punycode",
    "encodings.cp1252",
    "encodings.utf_8_sig",
    "encodings.unicode_escape",
    "encodings.raw_unicode_escape",
)

# The generated bindings the SDK reaches from inside functions (only the
# world's own exist; under plain CPython none do).
_BINDINGS = (
    "componentize_py_types",
    "wit_world",
    "wit_world.imports.types",
    "wit_world.imports.runtime",
    "wit_world.imports.activity_context",
)


def preload() -> None:
    for name in _LAZY + _BINDINGS:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
