"""Test helper: run the hive-etl CLI and SIGKILL it at its N-th function call inside hive_etl.

    python tests/kill_driver.py N COUNT_FILE -- migrate --home ...

N = 0 runs to the end and writes to COUNT_FILE the number of calls it made and the call at
which the final swap began ("<calls> <swap call>"), so a test can spread kill points over
the whole migration and crowd them around the swap. Calls include the SQL functions SQLite calls back
into, so kills land inside bulk statements too, not only between stages.
"""

import os
import signal
import sys


def main() -> None:
    kill_at, count_file, args = int(sys.argv[1]), sys.argv[2], sys.argv[4:]
    calls = swap_at = 0

    def profile(frame, event, arg):
        nonlocal calls, swap_at
        if event == "call" and frame.f_globals.get("__name__", "").startswith("hive_etl"):
            calls += 1
            if frame.f_code.co_name == "swap_into_place" and not swap_at:
                swap_at = calls
            if calls == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    from hive_etl.cli import main as cli

    sys.setprofile(profile)
    try:
        cli(args, prog_name="hive-etl")
    finally:
        sys.setprofile(None)
        with open(count_file, "w") as handle:
            handle.write(f"{calls} {swap_at}")


if __name__ == "__main__":
    main()
