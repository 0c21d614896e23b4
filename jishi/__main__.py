"""The `jishi` console script: Django's manage.py under a friendlier name.

Every management command is reachable: `jishi migrate`, `jishi seed`, `jishi serve`, ...
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jishi.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["jishi", *sys.argv[1:]])


if __name__ == "__main__":
    main()
