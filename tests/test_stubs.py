"""labs/ is generated from solutions/ by one function, and never drifts from it."""
from __future__ import annotations

import pytest

from aisys.stubs import STUB_RAISE, MarkerError, drifted_stubs, expected_stubs, generate_stub

SOLUTION = '''def f(x):
    """Doc. Hint: square it."""
    # BEGIN SOLUTION
    y = x * x
    return y
    # END SOLUTION


# BEGIN SOLUTION:
import math
# END SOLUTION
class C:
    def g(self):
        # BEGIN SOLUTION: return None
        return math.pi
        # END SOLUTION
'''


def test_markers_are_replaced_and_never_leak():
    stub = generate_stub(SOLUTION)
    assert "BEGIN SOLUTION" not in stub and "END SOLUTION" not in stub
    assert f"    {STUB_RAISE}\n" in stub
    assert "x * x" not in stub and "import math" not in stub
    assert "        return None\n" in stub
    assert '"""Doc. Hint: square it."""' in stub
    compile(stub, "<stub>", "exec")


@pytest.mark.parametrize("bad", ["# BEGIN SOLUTION\nx = 1\n", "x = 1\n# END SOLUTION\n",
                                 "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n"])
def test_broken_markers_are_reported(bad):
    with pytest.raises(MarkerError):
        generate_stub(bad)


def test_labs_match_the_generated_stubs():
    assert expected_stubs(), "no solution files found"
    drifted = drifted_stubs()
    assert not drifted, f"run `aisys stubs` to regenerate: {[str(p) for p in drifted]}"


def test_every_stub_compiles_and_raises_not_implemented():
    for path, text in expected_stubs().items():
        compile(text, str(path), "exec")
        assert "NotImplementedError" in text, path
