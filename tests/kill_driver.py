"""Test helper: run the hive-etl CLI and SIGKILL it at its N-th function call inside hive_etl.

    python tests/kill_driver.py N COUNT_FILE -- migrate --home ...

N = 0 runs to the end and writes the number of calls it made to COUNT_FILE, so a test can
spread kill points over a whole run. Calls include the SQL functions SQLite calls back
into, so kills land inside bulk statements too, not only between stages.
"""

import os
import signal
import sys


def main() -> None:
    kill_at, count_file, args = int(sys.argv[1]), sys.argv[2], sys.argv[4:]
    calls = 0

    def profile(frame, event, arg):
        nonlocal calls
        if event == "call" and frame.f_globals.get("__name__", "").startswith("hive_etl"):
            calls += 1
            if calls == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    from hive_etl.cli import main as cli

    sys.setprofile(profile)
    try:
        cli(args, prog_name="hive-etl")
    finally:
        sys.setprofile(None)
        with open(count_file, "w") as handle:
            handle.write(str(calls))


if __name__ == "__main__":
    main()
