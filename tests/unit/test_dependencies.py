"""What pyproject.toml promises about dependencies and files, so a fresh install works.

A release outside the tested ranges once broke the README's test command on a fresh machine
(pytest 9.2 with schemathesis 4.32): every requirement names the highest release line it is
known to work with, and the environment under test is one those ranges allow.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _requirements() -> dict[str, list[Requirement]]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    groups = {"dependencies": project["dependencies"], **project["optional-dependencies"]}
    return {group: [Requirement(text) for text in texts] for group, texts in groups.items()}


def _has_upper_bound(requirement: Requirement) -> bool:
    return any(spec.operator in ("<", "<=", "==", "~=", "===")
               for spec in requirement.specifier)


def test_every_requirement_has_an_upper_bound() -> None:
    unbounded = [f"{group}: {requirement}" for group, requirements in _requirements().items()
                 for requirement in requirements if not _has_upper_bound(requirement)]
    assert unbounded == [], "a new major (or, for 0.x, minor) release may break these"


@pytest.mark.parametrize("group", ["dependencies", "test"])
def test_the_environment_under_test_is_one_pyproject_allows(group: str) -> None:
    outside = []
    for requirement in _requirements()[group]:
        installed = metadata.version(requirement.name)
        if not requirement.specifier.contains(installed, prereleases=True):
            outside.append(f"{requirement.name} {installed} (pyproject: {requirement})")
    assert outside == [], "reinstall with pip install -e '.[test]'"


def test_every_package_data_pattern_ships_a_file() -> None:
    package_data = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]
    source = PYPROJECT.parent / "src"
    empty = [f"{package}: {pattern}" for package, patterns in package_data.items()
             for pattern in patterns if not any((source / package).glob(pattern))]
    assert empty == [], "package-data that matches nothing (a file moved or never made?)"
