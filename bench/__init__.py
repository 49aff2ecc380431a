"""openau's benchmarks and accuracy reports (not installed; run from the repository root).

``python -m bench NAME [ARGS]`` runs ``bench/NAME.py``'s ``main(argv)``. The
reports against OpenFace 2.2 are ``accuracy`` and ``speed`` (Markdown and
JSON in ``bench/results/``); ``readme`` writes their summary into README.md.
The others time one stage each.
"""
