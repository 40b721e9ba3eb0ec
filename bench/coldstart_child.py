# ruff: noqa: PLC0415  (Custodian is imported inside the measured window, and only in its virtualenv)
"""Run in a fresh interpreter by bench/coldstart.py: import one thing, report time and peak RSS.

Standard library only (it also runs in the Cloud Custodian virtualenv). Argument: a JSON object
    {"kind": "file", "path": ".../app.py", "sys_path": [...]}   a handler module, as Lambda loads it
    {"kind": "modules", "modules": ["boto3"], "sys_path": [...]}
    {"kind": "c7n", "resources": ["aws.lambda", ...]}            Custodian's Lambda entry point
    {"kind": "anatomy", "path": ".../app.py", "sys_path": [...], "preload": ["boto3", ...], "ours": "remediation"}
        the handler module again, its libraries imported first (untimed), with the time spent
        building its own msgspec Structs (the typed edge) and stdlib dataclasses told apart from the
        rest (this kind imports msgspec, so it runs only where the layer is)
Prints one JSON line: seconds spent importing, peak RSS (KiB), modules loaded (and for
"anatomy": {"models": [count, seconds], "dataclasses": [count, seconds]}, each exclusive).

Peak RSS is VmHWM from /proc/self/status where there is one: on Linux `ru_maxrss` of
RUSAGE_SELF survives exec, so a child would report its parent's peak (the benchmark's own
process, moto loaded) whenever that is larger. VmHWM belongs to the new program only.
"""

import importlib
import importlib.util
import json
import resource
import sys
import time


def _load_file(path):
    spec = importlib.util.spec_from_file_location("app", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)


def _load_c7n(resource_types):
    # What a Custodian policy Lambda does on a cold start: its generated custodian_policy.py
    # imports c7n.handler, and dispatch_event's one-time init loads the policy's resource types.
    from c7n import handler  # noqa: F401
    from c7n.resources import load_resources

    missing = load_resources(resource_types)
    if missing:
        raise SystemExit(f"c7n resources not found: {missing}")


def _anatomy(spec):
    """Load the handler with the building of Struct classes and of dataclasses timed, exclusively.

    Returns {"models": [n, s], "dataclasses": [n, s]} for classes defined in `ours` (or the handler
    module itself). A class built while another is (a nested import) counts only for itself.
    msgspec builds a Struct class in C (its metaclass cannot be wrapped), so a Struct's time is
    its whole `class` statement, through `builtins.__build_class__`.
    """
    import builtins
    import dataclasses

    import msgspec

    totals = {"models": [0, 0.0], "dataclasses": [0, 0.0]}
    nested = [0.0]  # time spent in inner timed builds, per level

    def timed(kind, build, module, counted=lambda built: True):
        def wrapper(*args, **kwargs):
            nested.append(0.0)
            started = time.perf_counter()
            built = None
            try:
                built = build(*args, **kwargs)
                return built
            finally:
                spent = time.perf_counter() - started
                inner = nested.pop()
                if module(args).split(".")[0] in (spec["ours"], "app") and counted(built):
                    totals[kind][0] += 1
                    totals[kind][1] += spent - inner
                    nested[-1] += spent
                else:
                    nested[-1] += inner  # not ours to count: only what was counted inside it is taken out

        return wrapper

    def is_struct(built):
        return isinstance(built, type) and issubclass(built, msgspec.Struct)

    builtins.__build_class__ = timed(
        "models", builtins.__build_class__, lambda args: args[0].__globals__.get("__name__", ""), is_struct
    )
    # _process_class: the one function every @dataclass goes through.
    dataclasses._process_class = timed("dataclasses", dataclasses._process_class, lambda args: args[0].__module__)
    _load_file(spec["path"])
    return totals


def _peak_rss_kb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main():
    spec = json.loads(sys.argv[1])
    sys.path[:0] = spec.get("sys_path", [])
    for name in spec.get("preload", []):
        importlib.import_module(name)
    before = len(sys.modules)
    start = time.perf_counter()
    extra = {}
    if spec["kind"] == "file":
        _load_file(spec["path"])
    elif spec["kind"] == "anatomy":
        extra = _anatomy(spec)
    elif spec["kind"] == "modules":
        for name in spec["modules"]:
            importlib.import_module(name)
    elif spec["kind"] == "c7n":
        _load_c7n(spec["resources"])
    else:
        raise SystemExit(f"unknown kind {spec['kind']}")
    seconds = time.perf_counter() - start
    rss = _peak_rss_kb()
    print(json.dumps({"seconds": seconds, "maxrss_kb": rss, "modules": len(sys.modules) - before, **extra}))


if __name__ == "__main__":
    main()
