"""Start-up: `python -m sumexp --cfg job` and `--help` against a bare Hydra app on the same YAML.

Run: python bench/bench_startup.py [--repeat N] [--quick]

The baseline is bench/bare/hydra_app.py given a copy of sumexp's conf/ without the typed schema
(`run_schema` in the defaults list) and the secret-redacting callback: what Hydra alone costs to
compose the same files. Each command runs in a fresh process, the two apps in turns, best of N.
Neither may import torch or transformers (checked once, outside the timing). Target: <= 1.2x.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from bench.common import PYTHON, REPO, best_of_alternating, fail, header, parser, run_process, table, verdict  # noqa: E402

TARGET = 1.2
BARE_APP = REPO / "bench" / "bare" / "hydra_app.py"
HEAVY = ("torch", "transformers")
# Run a command in-process and list the heavy modules it imported.
PROBE = (
    "import sys, runpy; sys.argv = {argv!r}\n"
    "try: runpy.{runner}\n"
    "except SystemExit: pass\n"
    "print('HEAVY', sorted(m for m in {heavy!r} if m in sys.modules))"
)


def bare_conf(folder: Path) -> Path:
    """sumexp's conf/ copied, minus what needs sumexp's code: the schema and the Hydra callback."""
    import yaml

    conf = folder / "conf"
    shutil.copytree(REPO / "conf", conf)
    top = yaml.safe_load((conf / "config.yaml").read_text(encoding="utf-8"))
    top["defaults"] = [d for d in top["defaults"] if d != "run_schema"]
    top["hydra"].pop("callbacks", None)
    (conf / "config.yaml").write_text(yaml.safe_dump(top, sort_keys=False), encoding="utf-8")
    return conf


def commands(conf: Path) -> dict[str, dict[str, list[str]]]:
    """{flag: {app: argv}} for --cfg job and --help."""
    bare = [PYTHON, str(BARE_APP), f"--config-path={conf}"]
    sumexp = [PYTHON, "-m", "sumexp"]
    return {
        flag: {"sumexp": sumexp + flag.split(), "bare Hydra": bare + flag.split()} for flag in ("--cfg job", "--help")
    }


def heavy_imports(argv: list[str]) -> str:
    """The heavy modules `argv` imports, found by running it in-process under runpy."""
    if argv[1] == "-m":
        runner, args = f"run_module({argv[2]!r}, run_name='__main__')", [argv[2], *argv[3:]]
    else:
        runner, args = f"run_path({argv[1]!r}, run_name='__main__')", argv[1:]
    _, done = run_process([PYTHON, "-c", PROBE.format(argv=args, runner=runner, heavy=HEAVY)])
    return done.stdout.strip().splitlines()[-1]


def main() -> int:
    args = parser(__doc__, repeat=10).parse_args()
    repeat = 1 if args.quick else args.repeat
    header("Start-up", args)
    with tempfile.TemporaryDirectory(prefix="sumexp-bench-") as tmp:
        cmds = commands(bare_conf(Path(tmp)))
        for flag, apps in cmds.items():
            for app, argv in apps.items():
                found = heavy_imports(argv)
                if found != "HEAVY []":
                    return fail(f"{app} {flag} imports {found}; composing a config must not")
        print(f"imports: neither app imports {' or '.join(HEAVY)} for --cfg job or --help")
        rows, met = [], True
        for flag, apps in cmds.items():
            best = best_of_alternating({app: lambda a=argv: run_process(a) for app, argv in apps.items()}, repeat)
            ratio = best["sumexp"][0] / best["bare Hydra"][0]
            rows.append([flag, best["sumexp"][0], best["bare Hydra"][0], f"{ratio:.2f}x", f"<= {TARGET}x"])
            met &= verdict(f"sumexp / bare Hydra, {flag}", ratio, TARGET)
    print(f"best of {repeat} fresh processes, in turns; seconds of wall time")
    table(["command", "sumexp s", "bare Hydra s", "ratio", "target"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
