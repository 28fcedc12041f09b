"""Test helper: run the hive-etl CLI and SIGKILL it at its N-th function call inside hive_etl.

    python tests/kill_driver.py N COUNT_FILE -- migrate --home ...

N = 0 runs to the end and writes to COUNT_FILE the number of calls it made and the call at
which the final swap began ("<calls> <swap call>"), so a test can spread kill points over
the whole migration and crowd them around the swap. N = swap+K kills at the K-th call after
the swap began: how many calls come before the swap depends on which process de-duplicates
the usage records (whichever gets there first: 45 calls more when the pipeline does, on the
sample install), so points inside the swap are counted from its start. Calls include the
SQL functions SQLite calls back into, so kills land inside bulk statements too, not only
between stages.
"""

import os
import signal
import sys


def main() -> None:
    point, count_file, args = sys.argv[1], sys.argv[2], sys.argv[4:]
    after_swap = int(point.removeprefix("swap+")) if point.startswith("swap+") else None
    kill_at = None if after_swap is not None else int(point)
    calls = swap_at = 0

    def profile(frame, event, arg):
        nonlocal calls, swap_at
        if event == "call" and frame.f_globals.get("__name__", "").startswith("hive_etl"):
            calls += 1
            if frame.f_code.co_name == "swap_into_place" and not swap_at:
                swap_at = calls
            if calls == kill_at or (swap_at and calls - swap_at == after_swap):
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
