"""What a program's user sees of a runtime error: its own frames, never the platform's
(``/opt/coderunner``, where the agent and Python's fork server live), in every interpreted
language (docs/runtimes.md, Errors)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import Running

PLATFORM_PATH = "/opt/coderunner"
FAILING = {
    # Python through the fork server: an uncaught error, a chained one, one in a thread
    # (threading's own hook) and a stack printed on purpose.
    "python": ("main.py", "helper.py",
               "import threading, traceback\nfrom helper import boom\n"
               "traceback.print_stack()\n"
               "t = threading.Thread(target=boom)\nt.start()\nt.join()\n"
               "try:\n    boom()\nexcept ValueError as e:\n    raise KeyError('k') from e\n",
               "def boom():\n    raise ValueError('boom')\n"),
    "javascript": ("main.js", "helper.js",
                   "const { boom } = require('./helper');\nconsole.trace('here');\nboom();\n",
                   "exports.boom = () => { throw new Error('boom'); };\n"),
    "typescript": ("main.ts", "helper.ts",
                   "import { boom } from './helper';\nconsole.trace('here');\nboom();\n",
                   "export function boom(): void { throw new Error('boom'); }\n"),
    "ruby": ("main.rb", "helper.rb",
             "require_relative 'helper'\nwarn caller(0).join(\"\\n\")\nboom\n",
             "def boom\n  raise ArgumentError, 'boom'\nend\n"),
    "php": ("main.php", "helper.php",
            "<?php\nrequire 'helper.php';\ndebug_print_backtrace();\nboom();\n",
            "<?php\nfunction boom() { throw new Exception('boom'); }\n"),
    "perl": ("main.pl", "helper.pl",
             "use Carp;\nrequire './helper.pl';\nCarp::cluck('here');\nboom();\n",
             "sub boom { Carp::confess('boom'); }\n1;\n"),
    "lua": ("main.lua", "helper.lua",
            "local helper = require('helper')\nio.stderr:write(debug.traceback('here'), '\\n')\n"
            "helper.boom()\n",
            "return { boom = function() error('boom') end }\n"),
    "bash": ("main.sh", "helper.sh",
             "source ./helper.sh\nboom\n",
             "boom() { caller 0 >&2; no_such_command_here; exit 7; }\n"),
}


@pytest.fixture
async def api(platform: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url, timeout=120, trust_env=False) as client:
        yield client


@pytest.mark.parametrize("language", sorted(FAILING))
async def test_a_runtime_error_shows_no_platform_frame(
    api: httpx.AsyncClient, language: str,
) -> None:
    main, helper, main_code, helper_code = FAILING[language]
    response = await api.post("/api/v1/executions?wait=true", json={
        "language": language, "mainFile": main,
        "files": [{"name": main, "content": main_code}, {"name": helper, "content": helper_code}],
    })
    body = response.json()
    assert body["verdict"] == "runtime_error", body
    assert "boom" in body["stderr"] or language == "bash", body["stderr"]
    assert helper in body["stderr"] or language == "lua", body["stderr"]
    assert PLATFORM_PATH not in body["stderr"] + body["stdout"], body["stderr"]
