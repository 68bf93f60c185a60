"""The docs page as a person sees it: Debian's Chromium, headless, opens /docs, Swagger UI
renders the OpenAPI document from the API's own files (its Content-Security-Policy allows no
other origin), and every operation of the document shows on the page."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

from tests.integration.api.conftest import Api

# Swagger UI renders after its script has fetched /openapi.json: virtual time lets Chromium
# run the page's work before it dumps the DOM, without a wall-clock wait here.
VIRTUAL_TIME_MS = 20_000
BOUND_SECONDS = 120


def rendered_dom(url: str) -> str:
    chromium = shutil.which("chromium")
    assert chromium is not None, "Debian's chromium is missing: scripts/lib.sh installs it"
    with tempfile.TemporaryDirectory() as profile:
        run = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", f"--virtual-time-budget={VIRTUAL_TIME_MS}",
             "--dump-dom", url],
            capture_output=True, text=True, timeout=BOUND_SECONDS, check=False,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def test_the_docs_page_shows_every_operation_with_a_key_to_send(api: Api) -> None:
    document = api.get("/openapi.json").json()
    dom = rendered_dom(api.url + "/docs")
    assert 'class="swagger-ui' in dom, dom[:2000]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            # Each operation is a block naming its method and path.
            assert f'id="operations-default-{operation["operationId"]}"' in dom or (
                f"opblock-{method}" in dom and f'data-path="{path}"' in dom
            ), (method, path)
    # The "Authorize" button: a key entered there goes with every request tried.
    assert "authorize" in dom.lower()
    assert document["info"]["title"] in dom
