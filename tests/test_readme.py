"""The README's set-up commands are the ones CI runs."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands(text: str) -> list[str]:
    blocks = text.split("```bash\n")[1:]
    return [block.split("```")[0].strip() for block in blocks]


def test_readme_install_and_test_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    first_screen = readme.split("\n## ", 2)
    install, _run, test = _commands("\n## ".join(first_screen[:2]))[:3]
    ci = (ROOT / ".ci" / "run").read_text()
    assert install in ci
    assert test in ci
