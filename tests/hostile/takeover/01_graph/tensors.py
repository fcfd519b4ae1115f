"""Plant code the grader runs later: in the aisys package, a .pth in site-packages, a module
imported lazily while judging. Every attempt is reported in the message."""
import os
import site
import sys
import sysconfig

import aisys

PAYLOAD = "import os\nos.environ['AISYS_PWNED'] = '1'\n"


def _try(path: str, mode: str = "a") -> str:
    try:
        with open(path, mode) as f:
            f.write(PAYLOAD)
        return f"WROTE {path}"
    except OSError as err:
        return f"{path}: {err.strerror}"


def _targets() -> list[str]:
    pkg = os.path.dirname(aisys.__file__)
    sites = set(site.getsitepackages() + [sysconfig.get_paths()["purelib"]])
    found = [os.path.join(pkg, "grading", "runner.py"), os.path.join(pkg, "grading", "compare.py"),
             os.path.join(pkg, "__init__.py"), os.path.join(pkg, "grading", "zz_planted.py")]
    for s in sites:
        found += [os.path.join(s, "zz_aisys_planted.pth"), os.path.join(s, "sitecustomize.py"),
                  os.path.join(s, "sympy", "__init__.py"), os.path.join(s, "torch", "_dynamo", "__init__.py")]
    found.append(os.path.join(sys.prefix, "lib", "zz_planted.py"))
    return found


def row_major_strides(shape):
    results = [_try(path, "w" if path.endswith((".pth", "planted.py")) else "a") for path in _targets()]
    raise RuntimeError("\n".join(results))
