from suitesync.cli import run

run()
