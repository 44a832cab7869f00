"""The floor: libyaml events-only parse of every suite file of a project (nothing is built).

Pulls events with the same loop as suitesync's loader, so the ratio compares like with like.
"""

import sys
from pathlib import Path

from suitesync.load import iter_events

for path in sorted(Path(sys.argv[1]).glob("suites/**/*.yaml")):
    for _event in iter_events(path.read_text()):
        pass
