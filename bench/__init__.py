"""openau's benchmarks and accuracy reports (not installed; run from the repository root).

``python -m bench NAME [ARGS]`` runs ``bench/NAME.py``'s ``main(argv)``.
"""
