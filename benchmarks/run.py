"""Run every benchmark in this folder: `make bench`, or `python benchmarks/run.py [--only NAME]`.

Each `benchmarks/bench_<name>.py` is imported by path and its `main()` called, with a
header per benchmark. Benchmarks print their own tables (our figure, the baseline measured
in the same run, the ratio, the target); nothing here asserts on a timing. Exits 1 when a
benchmark raises or its main() returns non-zero (the others still run), 2 when `--only` names no benchmark.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def discover() -> dict[str, Path]:
    """`{name: path}` for every `bench_<name>.py` beside this file, sorted by name."""
    return {p.stem[len("bench_"):]: p for p in sorted(HERE.glob("bench_*.py"))}


def load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"gongdan_bench_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up here
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    found = discover()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", metavar="NAME", action="append",
                    help=f"run only this benchmark (repeatable); one of: {', '.join(found) or 'none'}")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(found))
        return 0
    selected = found
    if args.only:
        wanted = [w.removeprefix("bench_").removesuffix(".py") for w in args.only]
        unknown = [w for w in wanted if w not in found]
        if unknown:
            print(f"no such benchmark: {', '.join(unknown)} (have: {', '.join(found) or 'none'})", file=sys.stderr)
            return 2
        selected = {w: found[w] for w in wanted}

    print(f"gongdan benchmarks · Python {platform.python_version()} ({platform.python_implementation()}) "
          f"· {platform.machine()} · {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print("Timings are medians over repeats on a shared machine; compare the ratios, not the absolutes.")
    failed: list[str] = []
    t_all = time.perf_counter()
    for name, path in selected.items():
        print()
        print("=" * 100)
        print(f"== {name}  ({path.relative_to(HERE.parent)})")
        print("=" * 100, flush=True)
        t0 = time.perf_counter()
        try:
            module = load(name, path)
            entry = getattr(module, "main", None)
            if not callable(entry):
                raise TypeError(f"{path.name} has no main()")
            rc = entry()
            if rc not in (0, None):  # a main() that reports its own failures returns non-zero
                raise SystemExit(rc)
        except (Exception, SystemExit) as exc:  # report it, run the rest, fail at the end
            if isinstance(exc, SystemExit) and exc.code in (0, None):
                print(f"-- {name}: done in {time.perf_counter() - t0:.1f} s", flush=True)
                continue
            sys.stdout.flush()
            traceback.print_exc()
            sys.stderr.flush()
            failed.append(name)
            print(f"-- {name}: FAILED after {time.perf_counter() - t0:.1f} s", flush=True)
        else:
            print(f"-- {name}: done in {time.perf_counter() - t0:.1f} s", flush=True)
    print()
    print(f"{len(selected) - len(failed)}/{len(selected)} benchmarks ran in {time.perf_counter() - t_all:.1f} s"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
