"""Which notebook cells are ``%pip install`` cells, and what they ask for (runners/
packages_magic.py): the same request a ``requirements.txt`` of the same lines gives."""

from __future__ import annotations

import pytest

from contracts.program import JobFile
from runners.packages_magic import pip_cell
from runners.packages_requests import BadRequest, pip_request


@pytest.mark.parametrize("code", ["x = 1", "print('%pip install a')", "# %pip install a",
                                  "!pip install a", ""])
def test_a_cell_without_a_pip_line_is_the_kernels(code: str) -> None:
    assert pip_cell(code) is None


def test_a_pip_cell_asks_for_what_requirements_txt_would() -> None:
    request = pip_cell("%pip install tinypkg==1.0 'other[extra]>=2'\n\n%pip install Third  # why")
    assert request is not None
    assert request.key == pip_request("other[extra]>=2\ntinypkg==1.0\nThird\n").key
    assert request.names == ["tinypkg", "other", "third"]


@pytest.mark.parametrize(("code", "said"), [
    ("%pip list", "only %pip install"),
    ("%pip uninstall a", "only %pip install"),
    ("%pip install", "names no package"),
    ("%pip install -r requirements.txt", "-r requirements.txt: the notebook has no such file"),
    ("%pip install -U a", "takes no options ('-U')"),
    ("%pip install --index-url http://x/simple a", "takes no options ('--index-url')"),
    ("%pip install git+https://example.invalid/a.git", "is not a plain requirement"),
    ("%pip install ./a", "is not a plain requirement"),
    ("%pip install 'a", "No closing quotation"),
    ("%pip install a\nimport a", "must be alone in its cell"),
    ("import a\n%pip install a", "must be alone in its cell"),
])
def test_any_other_pip_form_is_refused_with_a_clear_message(code: str, said: str) -> None:
    with pytest.raises(BadRequest) as refused:
        pip_cell(code)
    assert said in str(refused.value)


def test_a_requirements_file_of_the_notebook_is_read_as_requirements_txt() -> None:
    files = [JobFile("requirements.txt", "tinypkg==1.0  # pinned\n\nother\n")]
    request = pip_cell("%pip install -r requirements.txt third", files)
    assert request is not None
    assert request.key == pip_request("tinypkg==1.0\nother\nthird\n").key
    with pytest.raises(BadRequest, match=r"requirements\.txt line 1"):
        pip_cell("%pip install -r requirements.txt", [JobFile("requirements.txt", "-e .\n")])
