"""The emulated Management Shell of a drill's world, run by the world's topology as
``python -m pcdr._simshell --world DIR -- -NoProfile -NonInteractive -EncodedCommand <base64>``
(what ``pcdr sim shell`` is to the ``pcdr`` command). Only in a build with the emulator
(the default): a production build has no ``_sim_shell`` to import."""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from ._pcdr import PcdrError, _sim_shell


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the shell on ``argv`` (default: the command line), writes its output and
    returns its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        stdout, stderr, code = _sim_shell(args)
    except (PcdrError, ValueError) as e:
        sys.stderr.write(f"pcdr._simshell: {e}\n")
        return 1
    sys.stdout.write(stdout)
    sys.stderr.write(stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
