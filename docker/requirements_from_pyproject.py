"""Write pyproject.toml's [project] dependencies as a requirements file, minus some names.

Used by docker/Dockerfile, so the image's dependency layer depends on this list only.
Usage: python requirements_from_pyproject.py PYPROJECT OUT [NAME_TO_LEAVE_OUT ...]
The environment variable EXTRAS (comma-separated, e.g. "ray") adds those optional groups.
"""

import os
import re
import sys
import tomllib


def main(pyproject: str, out: str, *leave_out: str) -> None:
    """Write the dependencies of ``pyproject`` to ``out``, leaving out the named packages."""
    with open(pyproject, "rb") as file:
        project = tomllib.load(file)["project"]
    dependencies: list[str] = list(project["dependencies"])
    for extra in filter(None, os.environ.get("EXTRAS", "").split(",")):
        dependencies += project["optional-dependencies"][extra.strip()]
    names = {name.lower().replace("_", "-") for name in leave_out}

    def name_of(requirement: str) -> str:
        match = re.match(r"[A-Za-z0-9._-]+", requirement)
        if match is None:
            raise ValueError(f"not a requirement: {requirement!r}")
        return match[0].lower().replace("_", "-")

    kept = [dependency for dependency in dependencies if name_of(dependency) not in names]
    print("left out:", ", ".join(sorted(set(dependencies) - set(kept))) or "nothing")
    with open(out, "w") as file:
        file.write("\n".join(kept) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
