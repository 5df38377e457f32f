"""Stand-in for the pip bootstrap script ansible-test downloads from a host unreachable here.

ansible-test runs this inside each fresh sanity venv with pip-install arguments (e.g.
``pip==24.2 --no-setuptools --no-wheel``). It installs the pip bundled with Python
(``ensurepip``) and then the requested pip from PyPI, which is what the real script does.
"""

import subprocess
import sys

ARGS = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", *ARGS])
