"""Generates poort's API client with openapi-python-client (the venv's) from an OpenAPI document
into a folder, and makes its package importable: shared by the scripts tests/api_client.rs runs.
"""

import subprocess
import sys
from pathlib import Path


def generate(document: Path, out: Path) -> None:
    config = out / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "project_name_override: poort-api-client\npackage_name_override: poort_api_client\npost_hooks: []\n"
    )
    generator = Path(sys.executable).parent / "openapi-python-client"
    subprocess.run(
        [str(generator), "generate", "--path", str(document), "--output-path", str(out / "client"),
         "--config", str(config), "--overwrite"],
        check=True,
    )
    sys.path.insert(0, str(out / "client"))
